"""District mapping files (TOML): where an export keeps each field and what its values mean.

Built-in presets are mapping files too (``consentguard/roster/presets/*.toml``). A
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
    max_drop_students = 0.10      # refuse if more than this share of students disappear (0 to 0.5)
    max_drop_restricted = 0.10    # ... or of restricted students (or restrictions) disappear or are lifted
    min_drop_count = 3            # drops of fewer students never refuse (0 to 50)

The file's shape (known keys, types, the guards' limits) is checked by a
pydantic schema (:class:`MappingSchema`) before anything is read from it, so a
mapping can neither switch the guards off nor crash the importer: every
mistake is one line naming the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from consentguard.errors import RosterError
from consentguard.policy import DEFAULTS, setting
from consentguard.roster.consent import (
    ALL,
    CHANNELS,
    FALSE_WORDS,
    MEANINGS,
    POLICIES,
    SCOPES,
    TRUE_WORDS,
    ConsentField,
    norm_value,
)


class MappingError(RosterError):
    """A mapping file is invalid."""


FIELDS = ("student_number", "first_name", "last_name", "middle_name", "legal_first_name",
          "legal_last_name", "grade_level", "school_id", "enroll_status")
REQUIRED_FIELDS = ("student_number", "first_name", "last_name")
DELIMITERS = {"auto": None, ",": ",", "\\t": "\t", "\t": "\t", "tab": "\t", ";": ";", "|": "|"}


#: The guards' allowed range: beyond it a mapping would switch them off (a share of 1, a count of a million).
#: Declared with their defaults and help in consentguard.policy (settings of the same names).
GUARD_LIMITS = {name: (setting(name).low, setting(name).high)
                for name in ("max_drop_students", "max_drop_restricted", "min_drop_count")}


@dataclass(frozen=True)
class Guards:
    max_drop_students: float = DEFAULTS["max_drop_students"]
    max_drop_restricted: float = DEFAULTS["max_drop_restricted"]
    min_drop_count: int = DEFAULTS["min_drop_count"]  # smaller drops are never "suspicious" (tiny rosters)


# -- the schema: shape and types of a mapping file, before any meaning is read from it ------

class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FileSchema(_Table):
    header: bool = True
    delimiter: str = "auto"
    encoding: str = "auto"


class ConsentSchema(_Table):
    column: str | int
    scopes: list[str] | None = None
    channels: list[str] | None = None
    meaning: str = "opt-out"
    true_values: list[str] | None = None
    false_values: list[str] | None = None
    blank: str = "policy"
    contains: str | None = None
    expires_column: str | int | None = None
    required: bool = True


class GuardsSchema(_Table):
    max_drop_students: float = Field(DEFAULTS["max_drop_students"], ge=GUARD_LIMITS["max_drop_students"][0],
                                     le=GUARD_LIMITS["max_drop_students"][1])
    max_drop_restricted: float = Field(DEFAULTS["max_drop_restricted"], ge=GUARD_LIMITS["max_drop_restricted"][0],
                                       le=GUARD_LIMITS["max_drop_restricted"][1])
    min_drop_count: int = Field(DEFAULTS["min_drop_count"], ge=GUARD_LIMITS["min_drop_count"][0],
                                le=GUARD_LIMITS["min_drop_count"][1])


class JoinSchema(_Table):
    users_column: str
    consent_column: str


class FilterSchema(_Table):
    column: str
    values: list[str]


class MappingSchema(_Table):
    name: str | None = None
    description: str | None = None
    policy: str = "opt-out"
    file: FileSchema = FileSchema()
    columns: dict[str, str | int] = {}
    consent: list[ConsentSchema] = []
    guards: GuardsSchema = GuardsSchema()
    join: JoinSchema | None = None
    filter: FilterSchema | None = None


_WANT = {"string_type": "must be text", "int_type": "must be a whole number", "float_type": "must be a number",
         "bool_type": "must be true or false", "list_type": "must be a list", "dict_type": "must be a table",
         "model_type": "must be a table", "missing": "is required", "int_from_float": "must be a whole number"}
_TAGS = {"str", "int", "float", "bool", "list[str]", "none"}


def _where(loc: tuple) -> tuple[str, str]:
    """A pydantic error location in the words of the mapping file: ('[[consent]] #2:', 'scopes[1]')."""
    parts = [p for p in loc if p not in _TAGS]
    head, rest = (parts[0] if parts else ""), parts[1:]
    if head == "consent":
        if rest and isinstance(rest[0], int):
            head, rest = f"[[consent]] #{rest[0] + 1}:", rest[1:]
        else:
            head = "[[consent]]"
    elif head in ("file", "columns", "guards", "join", "filter"):
        head = f"[{head}]"
    else:
        head, rest = "", parts
    key = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(rest))
    return head, key


def _schema_error(exc: ValidationError, source: str) -> MappingError:
    """The first schema error as one line: file, key, what is wrong."""
    errors = exc.errors()
    extra = [e for e in errors if e["type"] == "extra_forbidden"]
    if extra:
        head, _ = _where(extra[0]["loc"][:-1])
        keys = sorted({str(e["loc"][-1]) for e in extra if e["loc"][:-1] == extra[0]["loc"][:-1]})
        if not head and len(extra[0]["loc"]) == 1:
            return MappingError(f"{source}: unknown section(s) or key(s): {', '.join(keys)}")
        return MappingError(f"{source}: {head} unknown key(s) {', '.join(keys)}".replace(":  ", ": "))
    error = errors[0]
    head, key = _where(error["loc"])
    name = key.rsplit(".", 1)[-1]
    if error["type"] in ("less_than_equal", "greater_than_equal") and name in GUARD_LIMITS:
        low, high = GUARD_LIMITS[name]
        want = f"must be from {low:g} to {high:g}, not {error['input']!r}"
    elif len([e for e in errors if e["loc"][:len(error["loc"]) - 1] == error["loc"][:-1]]) > 1 \
            and error["loc"][-1] in _TAGS:
        want = "must be text or a whole number"  # a column: a name, or a position
    else:
        want = _WANT.get(error["type"], error["msg"].lower())
    return MappingError(f"{source}: {' '.join(p for p in (head, key) if p)} {want}")


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
    #: The guards a district's own mapping file writes (a preset's count as defaults).
    guards_written: frozenset[str] = frozenset()

    def with_policy_guards(self, policy) -> "Mapping":
        """This mapping with the policy's guards (saved settings) wherever the policy's value is not
        the default and the district's mapping file does not write that guard itself: precedence
        mapping file > saved setting > preset > default."""
        given = {name: getattr(policy, name) for name in GUARD_LIMITS
                 if getattr(policy, name) != DEFAULTS[name] and name not in self.guards_written}
        return replace(self, guards=replace(self.guards, **given)) if given else self


def presets() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("consentguard.roster.presets").iterdir()
                  if p.name.endswith(".toml"))


def load_preset(name: str) -> Mapping:
    resource = resources.files("consentguard.roster.presets") / f"{name}.toml"
    if not resource.is_file():
        raise MappingError(f"unknown preset '{name}'; choose one of: {', '.join(presets())}")
    return replace(parse_mapping(resource.read_text(encoding="utf-8"), f"preset {name}"), guards_written=frozenset())


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
    """Check ``text`` against :class:`MappingSchema`, then read its meaning; every error is one line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{source}: not valid TOML: {exc}") from exc
    except RecursionError as exc:
        raise MappingError(f"{source}: not valid TOML: nested too deeply") from exc
    try:
        schema = MappingSchema.model_validate(data)
    except ValidationError as exc:
        raise _schema_error(exc, source) from exc
    except RecursionError as exc:
        raise MappingError(f"{source}: nested too deeply to be a mapping") from exc
    try:
        return _read_mapping(data, schema, source)
    except (TypeError, AttributeError, ValueError, KeyError, RecursionError) as exc:  # a shape the schema missed
        raise MappingError(f"{source}: invalid mapping ({type(exc).__name__}: {exc})") from exc


def _read_mapping(data: dict, schema: MappingSchema, source: str) -> Mapping:
    """The meaning of a mapping whose shape the schema has checked."""
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
    guards = Guards(**schema.guards.model_dump())
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
                   guards=guards, source=source, join=join, row_filter=row_filter,
                   guards_written=frozenset(schema.guards.model_fields_set))
