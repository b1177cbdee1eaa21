"""The consent model: what each export value means for each scope and channel.

A student's consent is a state per (scope, channel):

* scopes: ``photo`` (any identifiable image) and ``name``;
* channels: social media, website, yearbook, news media, video.

Each state is *restricted* or *permitted*, and a permission may carry an
``until`` date (a release that expires with the school year): after that date
it counts as restricted. Everything here is pure and table-tested.

Rules that never bend:

* The most restrictive answer wins (several fields, duplicate rows).
* A value nobody recognises means *restricted*, and is reported.
* Opt-out districts: blank = permitted, and a channel no field covers is
  permitted. Opt-in districts: only an explicit, current release permits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

SCOPES = ("photo", "name")
CHANNELS = ("social", "website", "yearbook", "news", "video")
ALL = "all"
POLICIES = ("opt-out", "opt-in")
MEANINGS = ("opt-out", "permission")

TRUE_WORDS = frozenset({"y", "yes", "1", "true", "t", "x", "checked", "on", "-1"})
FALSE_WORDS = frozenset({"n", "no", "0", "false", "f", "unchecked", "off"})


def norm_value(value: str | None) -> str:
    """Case-, space- and punctuation-spacing-insensitive form of a cell value."""
    return re.sub(r"\s+", " ", (value or "").strip()).casefold()


def parse_date(value: str) -> date | None:
    """ISO ``2027-06-30``, US ``6/30/2027`` (PowerSchool) or ``6/30/27``; None if not a date."""
    value = value.strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class ConsentField:
    """One consent column of an export and how to read it."""

    column: str | int                 # header name, or 1-based position in a headerless file
    scopes: tuple[str, ...] = SCOPES
    channels: tuple[str, ...] = (ALL,)
    meaning: str = "opt-out"          # opt-out: a yes refuses; permission: a yes permits
    true_values: frozenset[str] = TRUE_WORDS
    false_values: frozenset[str] = FALSE_WORDS
    blank: str = "policy"             # policy | permitted | restricted
    contains: str | None = None       # flag-list column: yes if this item is listed (e.g. "No Media")
    expires_column: str | int | None = None
    required: bool = True

    @property
    def covered(self) -> list[tuple[str, str]]:
        channels = CHANNELS if ALL in self.channels else self.channels
        return [(s, c) for s in self.scopes for c in channels]

    @property
    def label(self) -> str:
        return str(self.column) if isinstance(self.column, str) else f"column {self.column}"


@dataclass
class State:
    restricted: bool
    until: date | None = None  # a permission that ends after this day

    def merge(self, other: "State") -> "State":
        """Most restrictive of two states."""
        if self.restricted or other.restricted:
            return State(True)
        ends = [d for d in (self.until, other.until) if d]
        return State(False, min(ends) if ends else None)

    def restricted_on(self, day: date) -> bool:
        """The expiry rule (its one home): a permission counts as restricted after its ``until`` day."""
        return self.restricted or (self.until is not None and day > self.until)

    @classmethod
    def stored(cls, restricted, until: str | None) -> State:
        """A state as the consents table stores it (``until``: an ISO date, NULL: none); an end date
        that cannot be read, a blank one included, is restricted (fail closed)."""
        try:
            return cls(bool(restricted), date.fromisoformat(until) if until is not None else None)
        except ValueError:
            return cls(True)


@dataclass
class Reading:
    """The outcome of reading one field's cell: a state, or a problem (then restricted)."""

    state: State | None  # None: the field says nothing (blank left to the policy)
    problem: str | None = None


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def read_field(f: ConsentField, value: str, expires: str | None = None) -> Reading:
    """What one cell (and its expiry cell) says; a blank is left to the policy."""
    word = norm_value(value)
    if f.contains is not None:
        items = {norm_value(v) for v in re.split(r"[;,|\n\r]", value or "")}
        yes: bool | None = norm_value(f.contains) in items
        if not yes and _compact(f.contains) in _compact(value or ""):
            # "Gifted/No Media", "No-Media", "NoMedia", "No Media Release": the flag is there in
            # another spelling; read as listed (restricted), and say so
            return Reading(State(True) if f.meaning == "opt-out" else None,
                           f"{f.label} value {value.strip()!r} is read as listing {f.contains!r}")
    elif word == "":
        if f.blank == "restricted":
            return Reading(State(True))
        if f.blank == "permitted":
            return Reading(State(False))
        return Reading(None)
    elif word in f.true_values:
        yes = True
    elif word in f.false_values:
        yes = False
    else:
        return Reading(State(True), f"unrecognised {f.label} value {value.strip()!r}; treated as restricted")
    if f.contains is not None and not yes:
        return Reading(None)
    permitted = (not yes) if f.meaning == "opt-out" else yes
    if not permitted:
        return Reading(State(True))
    until = None
    if f.expires_column is not None and expires is not None and expires.strip():
        until = parse_date(expires)
        if until is None:
            return Reading(State(True), f"unreadable expiry date {expires.strip()!r} for {f.label}; "
                                        "treated as restricted")
    return Reading(State(False, until))


Consents = dict[tuple[str, str], State]


def combine(readings: list[tuple[ConsentField, Reading]], policy: str) -> Consents:
    """Every (scope, channel) state from one row's field readings."""
    states: dict[tuple[str, str], State] = {}
    for f, reading in readings:
        if reading.state is None:
            continue
        for key in f.covered:
            states[key] = states[key].merge(reading.state) if key in states else reading.state
    default = State(policy == "opt-in")
    return {(s, c): states.get((s, c), default) for s in SCOPES for c in CHANNELS}


def merge_consents(a: Consents, b: Consents) -> Consents:
    return {key: a[key].merge(b[key]) for key in a}


def restricted(consents: Consents, scope: str, channel: str | None = None, day: date | None = None) -> bool:
    """Restricted for ``scope`` on ``channel`` (None: on any channel) on ``day`` (default today)."""
    day = day or date.today()
    channels = CHANNELS if channel is None else (channel,)
    return any(consents[(scope, c)].restricted_on(day) for c in channels)


def describe(consents: Consents, scope: str) -> str:
    """``all``, ``none`` or the restricted channels, for listings and reports."""
    today = date.today()
    channels = [c for c in CHANNELS if consents[(scope, c)].restricted_on(today)]
    if len(channels) == len(CHANNELS):
        return "all"
    return ",".join(channels) if channels else "none"


@dataclass
class ConsentSummary:
    photo: bool
    name: bool
    expiring: bool = field(default=False)  # a photo permission with an end date


def summarize(consents: Consents) -> ConsentSummary:
    return ConsentSummary(photo=restricted(consents, "photo"), name=restricted(consents, "name"),
                          expiring=any(consents[("photo", c)].until for c in CHANNELS))
