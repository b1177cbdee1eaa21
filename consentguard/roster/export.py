"""Roster, step 1: read an SIS export into student records, refusing what is unsafe.

Nothing here touches the database: :func:`read_export` turns a file and a
:class:`~consentguard.roster.mapping.Mapping` into a :class:`Roster` (records plus
problems with line numbers) or raises :class:`SyncRefused` with a message
naming the file.

Consent values are parsed strictly (see :mod:`consentguard.roster.consent`): a value
nobody recognises never means *permitted*.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from consentguard.errors import RosterError, SyncRefused
from consentguard.roster.consent import (
    ConsentField,
    Consents,
    combine,
    merge_consents,
    norm_value,
    read_field,
    summarize,
)
from consentguard.roster.mapping import Mapping, load_preset


@dataclass
class StudentRecord:
    student_number: str
    first_name: str
    last_name: str
    middle_name: str = ""
    legal_first_name: str = ""
    legal_last_name: str = ""
    grade_level: str = ""
    school_id: str = ""
    enroll_status: str = ""
    consents: Consents = field(default_factory=dict)
    consent_raw: dict[str, str] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def photo_restricted(self) -> bool:
        return summarize(self.consents).photo

    @property
    def name_restricted(self) -> bool:
        return summarize(self.consents).name

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
    mapping: Mapping | None = None


def _header_key(header: str) -> str:
    """How a column header is compared with the mapping's: case, spaces, "_" and "-" ignored
    ("Student_Number" = "student number")."""
    return re.sub(r"[\s_\-]+", "", header.strip().casefold())


# Bytes Windows-1252 leaves undefined, all letters in MacRoman.
_CP1252_UNDEFINED = {0x81, 0x8D, 0x8F, 0x90, 0x9D}


def decode_text(data: bytes, source: str, encoding: str = "auto") -> tuple[str, str]:
    """Decode export bytes: UTF-8 (BOM or not), else Windows-1252 or MacRoman by their byte profile."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4096]:
        raise RosterError(f"{source}: looks like a binary file (or UTF-16), not a CSV export")
    if encoding != "auto":
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise RosterError(f"{source}: not valid {encoding} text (byte {exc.start})") from exc
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    high = [b for b in data if b >= 0x80]
    mac_like = sum(0x80 <= b <= 0x9F for b in high)  # MacRoman's accented letters live here
    if any(b in _CP1252_UNDEFINED for b in high) or mac_like > len(high) / 2:
        return data.decode("mac_roman"), "mac-roman"
    return data.decode("cp1252"), "windows-1252"


def _delimiter(first_line: str, wanted: str | None) -> str:
    if wanted:
        return wanted
    return max(("\t", ",", ";", "|"), key=first_line.count)


EXCEL_SCIENTIFIC = re.compile(r"^\d+(\.\d+)?E[+-]\d+$", re.IGNORECASE)  # 5.03E+02, not 0503E000


def check_student_number(number: str) -> str | None:
    """A reason the ID looks damaged by a spreadsheet, or None."""
    if EXCEL_SCIENTIFIC.match(number):
        return f"student number {number!r} looks turned into a number by Excel (scientific notation)"
    if re.fullmatch(r"\d{16,}", number) and number.endswith("0"):
        return f"student number {number!r} has more than 15 digits ending in 0: Excel may have truncated it"
    if re.fullmatch(r"\d+\.0", number):
        return f"student number {number!r} looks turned into a decimal number by a spreadsheet"
    return None


def _read_rows(path: str | Path, mapping: Mapping, what: str) -> tuple[list[tuple[int, list[str]]], str, bytes]:
    """(line number, cells) of every row, the encoding used, and the raw bytes."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RosterError(f"{source}: cannot read {what}: {exc.strerror or exc}") from exc
    text, encoding = decode_text(data, source, mapping.encoding)
    if not text.strip():
        raise SyncRefused(f"{source}: {what} is empty; nothing imported, yesterday's roster stays in force")
    delimiter = _delimiter(text.splitlines()[0], mapping.delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [(reader.line_num, row) for row in reader], encoding, data
    except csv.Error as exc:  # e.g. a field over csv's size limit: a damaged file, never half-read
        raise RosterError(f"{source}: line {reader.line_num}: {what} cannot be read as CSV ({exc}); "
                          "nothing imported") from exc


def _too_wide(header: list[str] | None, rows, mapping: Mapping, problems: list[Problem], where: str = ""):
    """Drop rows with more cells than the header: an unquoted comma ("Ellery, Jr.") shifts every
    later column, so a consent cell would be read from its neighbour. The student keeps their
    previous consent (absence never clears). A headerless file (AutoSend) has no header to
    count: its most common row width stands in for one."""
    if header is None:
        widths = [len(row) for _, row in rows if any(v.strip() for v in row)]
        width = max(set(widths), key=widths.count) if widths else 0
        number_at = mapping.columns["student_number"] - 1
        expected = f"most rows have {width}"
    else:
        width = len(header)
        number_at = {_header_key(h): i for i, h in enumerate(header)}.get(_header_key(str(mapping.columns["student_number"])))
        expected = f"the header has {width}"
    kept: list = []
    for line, row in rows:
        if len(row) <= width:
            kept.append((line, row))
            continue
        number = row[0].strip() if number_at == 0 else ""  # a later cell may itself be shifted
        who = f"student {number} skipped, their" if number else "skipped, the student's"
        message = (f"row has {len(row)} columns, {expected} (an unquoted comma in a "
                   f"value?); {who} previous consent stays")
        problems.append(Problem(f"{where} line {line}: {message}", None, number or None) if where
                        else Problem(message, line, number or None))
    return kept


def read_export(path: str | Path, mapping: Mapping | None = None,
                consent_path: str | Path | None = None) -> Roster:
    """Read an export as ``mapping`` (default: the powerschool preset) describes it.

    With a mapping that has a ``[join]``, consent columns come from ``consent_path``.
    """
    mapping = mapping or load_preset("powerschool")
    source = str(path)
    rows, encoding, data = _read_rows(path, mapping, "export")
    problems: list[Problem] = []
    if encoding not in ("utf-8", mapping.encoding):
        problems.append(Problem(f"export is not UTF-8; decoded as {encoding}"))
    if mapping.header:
        header = rows.pop(0)[1]
        rows = _filter(header, _too_wide(header, rows, mapping, problems), mapping)
        if mapping.join:
            header, rows = _join(header, rows, mapping, source, consent_path, problems)
        index = _column_index(header, mapping, source)
    else:
        rows = _too_wide(None, rows, mapping, problems)
        index = _positions(mapping)
    fields = [(f, index.get(("consent", i)), index.get(("expires", i))) for i, f in enumerate(mapping.consent)]
    fields = [(f, c, e) for f, c, e in fields if c is not None]
    needed = max(v for v in index.values() if v is not None) + 1

    records: dict[str, StudentRecord] = {}
    count = 0
    for line, row in rows:
        if not any(v.strip() for v in row):
            continue
        count += 1
        record = _read_row(row, line, index, fields, needed, mapping, problems)
        if record is None:
            continue
        if record.student_number in records:
            _merge_duplicate(records[record.student_number], record, problems, line)
        else:
            records[record.student_number] = record
    if count == 0:
        raise SyncRefused(f"{source}: export has a header but no student rows; nothing imported"
                          if mapping.header else f"{source}: export has no student rows; nothing imported")
    return Roster(source=source, sha256=hashlib.sha256(data).hexdigest(), encoding=encoding,
                  records=records, problems=problems,
                  consent_columns=[f.label for f, _, _ in fields], mapping=mapping)


def _join(header, rows, mapping: Mapping, source: str, consent_path, problems):
    """Append each user's consent row (by key) to their row; a user without one gets blanks."""
    if consent_path is None:
        raise RosterError(f"{source}: mapping '{mapping.name}' reads consent from a second file: "
                          "give it with --consent FILE")
    consent_rows, _, _ = _read_rows(consent_path, mapping, "consent file")
    consent_header = consent_rows.pop(0)[1]
    if not consent_rows:
        raise SyncRefused(f"{consent_path}: consent file has a header but no rows; nothing imported")
    consent_rows = _too_wide(consent_header, consent_rows, mapping, problems, str(consent_path))
    keys = {_header_key(h): i for i, h in enumerate(consent_header)}
    ckey = keys.get(_header_key(mapping.join.consent_column))
    ukey = {_header_key(h): i for i, h in enumerate(header)}.get(_header_key(mapping.join.users_column))
    if ckey is None:
        raise SyncRefused(f"{consent_path}: join column '{mapping.join.consent_column}' is missing; nothing imported")
    if ukey is None:
        raise SyncRefused(f"{source}: join column '{mapping.join.users_column}' is missing; nothing imported")
    by_key: dict[str, list[list[str]]] = {}
    for _, row in consent_rows:
        if ckey < len(row) and row[ckey].strip():
            by_key.setdefault(row[ckey].strip(), []).append(row)
    joined, missing = [], 0
    for line, row in rows:
        key = row[ukey].strip() if ukey < len(row) else ""
        matches = by_key.get(key)
        if not matches:  # never read a missing consent row as blank (= permitted in opt-out)
            missing += 1
            continue
        padded = row + [""] * (len(header) - len(row))
        # Several consent rows for one student become duplicate rows: most restrictive wins.
        joined.extend((line, padded + consent) for consent in matches)
    if missing:
        problems.append(Problem(f"{missing} user row(s) have no row in the consent file {consent_path}; "
                                "skipped: their previous consent stays (a new student is imported once "
                                "the consent file lists them)"))
    return header + consent_header, joined


def _filter(header, rows, mapping: Mapping):
    f = mapping.row_filter
    if f is None:
        return rows
    index = {_header_key(h): i for i, h in enumerate(header)}.get(_header_key(f.column))
    if index is None:
        return rows
    return [(line, row) for line, row in rows if index < len(row) and norm_value(row[index]) in f.values]


def _column_index(header: list[str], mapping: Mapping, source: str) -> dict:
    """Header names → 0-based positions; refuses a file missing a required column."""
    columns: dict[str, int] = {}
    seen: dict[str, list[int]] = {}
    for i, h in enumerate(header):
        if h.strip():
            columns.setdefault(_header_key(h), i)  # first occurrence wins (joined files may repeat a key)
            seen.setdefault(_header_key(h), []).append(i)
    for f in mapping.consent:  # a consent column twice: which one holds the opt-outs cannot be known
        for column in (f.column, f.expires_column):
            if column is not None and len(seen.get(_header_key(column), [])) > 1:
                raise SyncRefused(f"{source}: consent column '{column}' appears {len(seen[_header_key(column)])} times in the "
                                  f"header (columns {', '.join(str(i + 1) for i in seen[_header_key(column)])}): which one "
                                  "holds the opt-outs cannot be known; nothing imported")
    index: dict = {}
    for name, column in mapping.columns.items():
        index[name] = columns.get(_header_key(column))
    for name in ("student_number", "first_name", "last_name"):
        if index[name] is None:
            raise SyncRefused(f"{source}: required column '{mapping.columns[name]}' is missing "
                              "from the header; nothing imported")
    for i, f in enumerate(mapping.consent):
        position = columns.get(_header_key(f.column))
        if position is None and f.required:
            raise SyncRefused(f"{source}: consent column '{f.column}' is missing from the header; "
                              "nothing imported (a missing consent column must never clear restrictions)")
        index[("consent", i)] = position
        if f.expires_column is not None:
            index[("expires", i)] = columns.get(_header_key(f.expires_column))
            if position is not None and index[("expires", i)] is None:
                raise SyncRefused(f"{source}: expiry column '{f.expires_column}' is missing from the header; "
                                  "nothing imported")
    return index


def _positions(mapping: Mapping) -> dict:
    index: dict = {name: column - 1 for name, column in mapping.columns.items()}
    for i, f in enumerate(mapping.consent):
        index[("consent", i)] = f.column - 1
        if f.expires_column is not None:
            index[("expires", i)] = f.expires_column - 1
    return index


def _read_row(row, line, index, fields, needed, mapping: Mapping, problems) -> StudentRecord | None:
    def cell(name) -> str:
        i = index.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    number = cell("student_number")
    if not number:
        problems.append(Problem("row has no student number; skipped", line))
        return None
    if len(row) < needed:  # a truncated upload: missing consent cells must not read as blank
        problems.append(Problem(f"row has {len(row)} columns, {needed} expected (truncated?); "
                                f"student {number} skipped, their previous consent stays", line, number))
        return None
    damage = check_student_number(number)
    if damage:
        problems.append(Problem(f"{damage}; row skipped, the student's previous consent stays", line, number))
        return None
    record = StudentRecord(
        student_number=number, first_name=cell("first_name"), last_name=cell("last_name"),
        middle_name=cell("middle_name"), legal_first_name=cell("legal_first_name"),
        legal_last_name=cell("legal_last_name"), grade_level=cell("grade_level"),
        school_id=cell("school_id"), enroll_status=cell("enroll_status"), lines=[line])
    # Preferred names where the export has them, else the legal ones (OneRoster 1.2).
    record.first_name = record.first_name or record.legal_first_name
    record.last_name = record.last_name or record.legal_last_name
    if not record.first_name or not record.last_name:
        problems.append(Problem(f"student {number} has no full name; name matching is incomplete", line, number))
    readings = []
    for f, column, expires in fields:
        value = row[column] if column < len(row) else ""
        expiry = row[expires] if expires is not None and expires < len(row) else None
        record.consent_raw[f.label] = value.strip()
        reading = read_field(f, value, expiry)
        if reading.problem:
            problems.append(Problem(f"student {number}: {reading.problem}", line, number))
        readings.append((f, reading))
    record.consents = combine(readings, mapping.policy)
    return record


def _merge_duplicate(kept: StudentRecord, dup: StudentRecord, problems: list[Problem], line: int) -> None:
    """Duplicate rows for one student: the most restrictive answer wins."""
    problems.append(Problem(
        f"student {dup.student_number} appears again (first on line {kept.lines[0]}); "
        "the most restrictive consent is kept", line, dup.student_number))
    kept.consents = merge_consents(kept.consents, dup.consents)
    kept.lines.append(line)
    for key, value in dup.consent_raw.items():
        if value and value != kept.consent_raw.get(key):
            kept.consent_raw[key] = "|".join(filter(None, [kept.consent_raw.get(key, ""), value]))


__all__ = ["ConsentField", "Problem", "Roster", "StudentRecord", "check_student_number", "decode_text",
           "read_export"]
