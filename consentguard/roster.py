"""Roster, step 1: read an SIS export into student records, refusing what is unsafe.

Nothing here touches the database: :func:`read_export` turns a file into a
:class:`Roster` (records plus problems with line numbers) or raises
:class:`RosterError` / :class:`SyncRefused` with a message naming the file.

Consent values are parsed strictly. A value we do not recognise never means
*permitted*: the student is treated as restricted and the row is reported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RosterError, SyncRefused

TRUE_WORDS = {"y", "yes", "1", "true", "t", "x", "checked", "on"}
FALSE_WORDS = {"", "n", "no", "0", "false", "f", "unchecked", "off"}


def parse_flag(value: str | None) -> bool | None:
    """``True``/``False`` for a recognised yes/no value, ``None`` if unrecognised."""
    word = (value or "").strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


@dataclass(frozen=True)
class ConsentColumn:
    """A consent column and what a *true* value in it restricts."""

    header: str
    photo: bool
    name: bool


@dataclass(frozen=True)
class Preset:
    """Where a district's export keeps each field."""

    name: str
    student_number: str
    first_name: str
    last_name: str
    middle_name: str | None
    grade_level: str | None
    school_id: str | None
    enroll_status: str | None
    consent: tuple[ConsentColumn, ...]
    required_consent: tuple[str, ...]


POWERSCHOOL = Preset(
    name="powerschool",
    student_number="Student_Number",
    first_name="First_Name",
    last_name="Last_Name",
    middle_name="Middle_Name",
    grade_level="Grade_Level",
    school_id="SchoolID",
    enroll_status="Enroll_Status",
    consent=(
        ConsentColumn("Media_Opt_Out", photo=True, name=True),
        ConsentColumn("Photo_Opt_Out", photo=True, name=False),
        ConsentColumn("Name_Opt_Out", photo=False, name=True),
    ),
    required_consent=("Media_Opt_Out",),
)


@dataclass
class StudentRecord:
    student_number: str
    first_name: str
    last_name: str
    middle_name: str = ""
    grade_level: str = ""
    school_id: str = ""
    enroll_status: str = ""
    photo_restricted: bool = False
    name_restricted: bool = False
    consent_raw: dict[str, str] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def restricted(self) -> bool:
        return self.photo_restricted or self.name_restricted


@dataclass
class Problem:
    """Something in the export a person should look at."""

    message: str
    line: int | None = None
    student_number: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.message}"


@dataclass
class Roster:
    source: str
    sha256: str
    encoding: str
    records: dict[str, StudentRecord]
    problems: list[Problem]
    consent_columns: list[str]


def _key(header: str) -> str:
    return re.sub(r"[\s_\-]+", "", header.strip().casefold())


def decode_text(data: bytes, source: str) -> tuple[str, str]:
    """Decode export bytes as UTF-8 (BOM or not), else Windows-1252."""
    if b"\x00" in data[:4096]:
        raise RosterError(f"{source}: looks like a binary file (or UTF-16), not a CSV export")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "windows-1252"


def read_export(path: str | Path, preset: Preset = POWERSCHOOL) -> Roster:
    """Read a header-row export; raise SyncRefused when it is not safe to import."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RosterError(f"{source}: cannot read export: {exc.strerror or exc}") from exc
    text, encoding = decode_text(data, source)
    if not text.strip():
        raise SyncRefused(f"{source}: export is empty; nothing imported, yesterday's roster stays in force")
    first_line = text.splitlines()[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader)
    columns = {_key(h): i for i, h in enumerate(header) if h.strip()}

    def col(name: str | None) -> int | None:
        return None if name is None else columns.get(_key(name))

    for needed in (preset.student_number, preset.first_name, preset.last_name, *preset.required_consent):
        if col(needed) is None:
            raise SyncRefused(
                f"{source}: required column '{needed}' is missing from the header; "
                "nothing imported"
            )
    consent = [(c, col(c.header)) for c in preset.consent if col(c.header) is not None]

    def cell(row: list[str], name: str | None) -> str:
        index = col(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    records: dict[str, StudentRecord] = {}
    problems: list[Problem] = []
    rows = 0
    for row in reader:
        line = reader.line_num
        if not any(v.strip() for v in row):
            continue
        rows += 1
        number = cell(row, preset.student_number)
        if not number:
            problems.append(Problem("row has no student number; skipped", line))
            continue
        record = StudentRecord(
            student_number=number,
            first_name=cell(row, preset.first_name),
            last_name=cell(row, preset.last_name),
            middle_name=cell(row, preset.middle_name),
            grade_level=cell(row, preset.grade_level),
            school_id=cell(row, preset.school_id),
            enroll_status=cell(row, preset.enroll_status),
            lines=[line],
        )
        if not record.first_name or not record.last_name:
            problems.append(Problem(f"student {number} has no full name; name matching is incomplete", line, number))
        for column, index in consent:
            raw = row[index].strip() if index < len(row) else ""
            record.consent_raw[column.header] = raw
            flag = parse_flag(raw)
            if flag is None:
                problems.append(Problem(
                    f"student {number}: unrecognised {column.header} value {raw!r}; treated as restricted",
                    line, number))
                flag = True
            record.photo_restricted |= flag and column.photo
            record.name_restricted |= flag and column.name
        if number in records:
            _merge_duplicate(records[number], record, problems, line)
        else:
            records[number] = record
    if rows == 0:
        raise SyncRefused(f"{source}: export has a header but no student rows; nothing imported")
    return Roster(source=source, sha256=hashlib.sha256(data).hexdigest(), encoding=encoding,
                  records=records, problems=problems,
                  consent_columns=[c.header for c, _ in consent])


def _merge_duplicate(kept: StudentRecord, dup: StudentRecord, problems: list[Problem], line: int) -> None:
    """Duplicate rows for one student: the most restrictive answer wins."""
    problems.append(Problem(
        f"student {dup.student_number} appears again (first on line {kept.lines[0]}); "
        "the most restrictive consent is kept", line, dup.student_number))
    kept.photo_restricted |= dup.photo_restricted
    kept.name_restricted |= dup.name_restricted
    kept.lines.append(line)
    for key, value in dup.consent_raw.items():
        if value and value != kept.consent_raw.get(key):
            kept.consent_raw[key] = "|".join(filter(None, [kept.consent_raw.get(key, ""), value]))
