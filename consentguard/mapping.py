"""District mapping files (TOML): where an export keeps each field and what its values mean.

Built-in presets are mapping files too (``consentguard/presets/*.toml``). A
district copies one, edits it, and passes it with ``--mapping``; ``consentguard
sync --check-config`` validates it. Every error names the file and the key.

Example (the ``powerschool`` preset)::

    name = "powerschool"
    policy = "opt-out"            # opt-out: blank = permitted; opt-in: only a current release permits

    [file]
    header = true                 # false: columns are 1-based positions
    delimiter = "auto"            # "auto", ",", "\\t", ";" or "|"
    encoding = "auto"             # "auto" (UTF-8, else Windows-1252 or MacRoman) or a codec name

    [columns]
    student_number = "Student_Number"
    first_name = "First_Name"
    last_name = "Last_Name"

    [[consent]]
    column = "Media_Opt_Out"
    scopes = ["photo", "name"]    # photo, name
    channels = ["all"]            # all, social, website, yearbook, news, video
    meaning = "opt-out"           # opt-out: yes = refused; permission: yes = permitted

    [guards]
    max_drop_students = 0.10      # refuse if more than this share of students disappear
    max_drop_restricted = 0.10    # ... or of restricted students disappear or are cleared
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .consent import ALL, CHANNELS, FALSE_WORDS, MEANINGS, POLICIES, SCOPES, TRUE_WORDS, ConsentField, norm_value
from .errors import RosterError


class MappingError(RosterError):
    """A mapping file is invalid."""


FIELDS = ("student_number", "first_name", "last_name", "middle_name", "legal_first_name",
          "legal_last_name", "grade_level", "school_id", "enroll_status")
REQUIRED_FIELDS = ("student_number", "first_name", "last_name")
DELIMITERS = {"auto": None, ",": ",", "\\t": "\t", "\t": "\t", "tab": "\t", ";": ";", "|": "|"}


@dataclass(frozen=True)
class Guards:
    max_drop_students: float = 0.10
    max_drop_restricted: float = 0.10
    min_drop_count: int = 3  # smaller drops are never "suspicious" (tiny rosters)


@dataclass(frozen=True)
class Join:
    """Consent kept in a second CSV (OneRoster has no consent field), joined on a key."""

    users_column: str
    consent_column: str


@dataclass(frozen=True)
class RowFilter:
    """Only rows whose ``column`` holds one of ``values`` are students (if the column exists)."""

    column: str
    values: frozenset[str]


@dataclass(frozen=True)
class Mapping:
    name: str
    policy: str = "opt-out"
    header: bool = True
    delimiter: str | None = None
    encoding: str = "auto"
    columns: dict[str, str | int] = field(default_factory=dict)
    consent: tuple[ConsentField, ...] = ()
    guards: Guards = Guards()
    source: str = "<preset>"
    join: Join | None = None
    row_filter: RowFilter | None = None


def presets() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("consentguard.presets").iterdir()
                  if p.name.endswith(".toml"))


def load_preset(name: str) -> Mapping:
    resource = resources.files("consentguard.presets") / f"{name}.toml"
    if not resource.is_file():
        raise MappingError(f"unknown preset '{name}'; choose one of: {', '.join(presets())}")
    return parse_mapping(resource.read_text(encoding="utf-8"), f"preset {name}")


def load_mapping(path: str | Path) -> Mapping:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{path}: cannot read mapping file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise MappingError(f"{path}: mapping file is not UTF-8 text") from exc
    return parse_mapping(text, str(path))


def _column(value, where: str, header: bool) -> str | int:
    if header and isinstance(value, str) and value.strip():
        return value.strip()
    if not header and isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    want = "a column name (text)" if header else "a 1-based column position (whole number >= 1)"
    raise MappingError(f"{where} must be {want} because [file] header = {str(header).lower()}")


def _words(values, where: str) -> frozenset[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise MappingError(f"{where} must be a list of text values")
    return frozenset(norm_value(v) for v in values)


def _consent(entry: dict, where: str, header: bool) -> ConsentField:
    known = {"column", "scopes", "channels", "meaning", "true_values", "false_values", "blank",
             "contains", "expires_column", "required"}
    unknown = set(entry) - known
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if "column" not in entry:
        raise MappingError(f"{where}: 'column' is required")
    scopes = tuple(entry.get("scopes", SCOPES))
    channels = tuple(entry.get("channels", [ALL]))
    meaning = entry.get("meaning", "opt-out")
    blank = entry.get("blank", "policy")
    if not scopes or any(s not in SCOPES for s in scopes):
        raise MappingError(f"{where}: scopes must be a non-empty list of {', '.join(SCOPES)}")
    if not channels or any(c not in (ALL, *CHANNELS) for c in channels):
        raise MappingError(f"{where}: channels must be a non-empty list of {', '.join((ALL, *CHANNELS))}")
    if meaning not in MEANINGS:
        raise MappingError(f"{where}: meaning must be 'opt-out' or 'permission', not {meaning!r}")
    if blank not in ("policy", "permitted", "restricted"):
        raise MappingError(f"{where}: blank must be 'policy', 'permitted' or 'restricted', not {blank!r}")
    true_values = _words(entry["true_values"], f"{where}.true_values") if "true_values" in entry else TRUE_WORDS
    false_values = _words(entry["false_values"], f"{where}.false_values") if "false_values" in entry else FALSE_WORDS
    if true_values & false_values:
        raise MappingError(f"{where}: values listed as both true and false: "
                           f"{', '.join(sorted(true_values & false_values))}")
    expires = entry.get("expires_column")
    return ConsentField(
        column=_column(entry["column"], f"{where}.column", header), scopes=scopes, channels=channels,
        meaning=meaning, true_values=true_values, false_values=false_values, blank=blank,
        contains=entry.get("contains"),
        expires_column=None if expires is None else _column(expires, f"{where}.expires_column", header),
        required=bool(entry.get("required", True)))


def parse_mapping(text: str, source: str) -> Mapping:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{source}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"name", "policy", "file", "columns", "consent", "guards", "description",
                           "join", "filter"}
    if unknown:
        raise MappingError(f"{source}: unknown section(s) or key(s): {', '.join(sorted(unknown))}")
    policy = data.get("policy", "opt-out")
    if policy not in POLICIES:
        raise MappingError(f"{source}: policy must be 'opt-out' or 'opt-in', not {policy!r}")
    file = data.get("file", {})
    header = file.get("header", True)
    if not isinstance(header, bool):
        raise MappingError(f"{source}: [file] header must be true or false")
    delimiter = file.get("delimiter", "auto")
    if delimiter not in DELIMITERS:
        raise MappingError(f"{source}: [file] delimiter must be one of \"auto\", \",\", \"\\t\", \";\", \"|\"")
    encoding = file.get("encoding", "auto")
    if encoding != "auto":
        try:
            "".encode(encoding)
        except LookupError as exc:
            raise MappingError(f"{source}: [file] encoding {encoding!r} is not a known codec") from exc
    raw_columns = data.get("columns", {})
    for key in raw_columns:
        if key not in FIELDS:
            raise MappingError(f"{source}: [columns] {key} is not a known field ({', '.join(FIELDS)})")
    for key in REQUIRED_FIELDS:
        if key not in raw_columns:
            raise MappingError(f"{source}: [columns] {key} is required")
    columns = {k: _column(v, f"{source}: [columns] {k}", header) for k, v in raw_columns.items()}
    entries = data.get("consent", [])
    if not entries:
        raise MappingError(f"{source}: at least one [[consent]] field is required")
    consent = tuple(_consent(e, f"{source}: [[consent]] #{i}", header) for i, e in enumerate(entries, 1))
    g = data.get("guards", {})
    try:
        guards = Guards(**g)
    except TypeError as exc:
        raise MappingError(f"{source}: [guards] {exc}") from exc
    for share in (guards.max_drop_students, guards.max_drop_restricted):
        if not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise MappingError(f"{source}: [guards] shares must be numbers from 0 to 1")
    join = None
    if "join" in data:
        j = data["join"]
        if not header or not isinstance(j.get("users_column"), str) or not isinstance(j.get("consent_column"), str):
            raise MappingError(f"{source}: [join] needs users_column and consent_column (names) and header = true")
        join = Join(j["users_column"], j["consent_column"])
    row_filter = None
    if "filter" in data:
        f = data["filter"]
        if not isinstance(f.get("column"), str) or not isinstance(f.get("values"), list):
            raise MappingError(f"{source}: [filter] needs column (a name) and values (a list)")
        row_filter = RowFilter(f["column"], _words(f["values"], f"{source}: [filter] values"))
    return Mapping(name=data.get("name", Path(source).stem), policy=policy, header=header,
                   delimiter=DELIMITERS[delimiter], encoding=encoding, columns=columns, consent=consent,
                   guards=guards, source=source, join=join, row_filter=row_filter)
