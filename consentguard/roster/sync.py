"""Roster sync: apply a parsed export to the database, all or nothing, with history.

Order of work: read and check the export (may refuse), apply the guards (may
refuse), find and encode the portraits the face index needs (slow, outside any
transaction), then write everything in one transaction. Every run — ok,
refused or failed — is kept in ``sync_runs``; every change to a student is
kept in ``student_changes`` (before and after), which ``roster diff`` and
``roster rollback`` read.

A student missing from today's export keeps every restriction they had:
absence never clears an opt-out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlite_utils

from consentguard.errors import ConsentGuardError, RosterError, SyncRefused
from consentguard.match import index as face_index
from consentguard.policy import RESTRICTED_INDEX_COST, Policy
from consentguard.roster.consent import CHANNELS, SCOPES, Consents, State
from consentguard.roster.export import Problem, Roster, StudentRecord, read_export
from consentguard.roster.mapping import Mapping, load_preset
from consentguard.roster.portraits import PortraitResult, PortraitSource, open_portraits, prepare_portrait
from consentguard.store import portraits as stored_portraits
from consentguard.store import roster as stored
from consentguard.store.db import latest_sync_id, now, os_user, policy_sync, transaction, writer_lock
from consentguard.store.settings import without_face_recognition_if_off

STUDENT_FIELDS = ("first_name", "middle_name", "last_name", "legal_first_name", "legal_last_name",
                  "grade_level", "school_id", "enroll_status")


@dataclass
class SyncReport:
    sync_id: int
    source: str
    students: int
    photo_restricted: int
    name_restricted: int
    portraits_encoded: int
    portraits_reused: int
    kept_absent: int
    newly_restricted: list[str] = field(default_factory=list)
    newly_cleared: list[str] = field(default_factory=list)
    changed: int = 0
    problems: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # student number -> name, for the lists
    mapping: str = "powerschool"
    encoding: str = "utf-8"
    notes: list[str] = field(default_factory=list)  # worth knowing, not wrong (which portrait face was used)
    index_policy: str = face_index.DEFAULT_INDEX_POLICY
    #: how the index policy was set: "default" (a first sync without --index), "chosen" (--index),
    #: "kept" (no --index: the last sync's policy)
    index_policy_source: str = "default"
    #: the index policy before this sync, when this sync changed it (None: unchanged, or a first sync)
    index_policy_before: str | None = None
    #: students with usable portraits per number of portraits: {"1": 180, "2": 40} (several
    #: portraits per student: previous years' photos; a face is as close as to the nearest of them)
    references: dict[str, int] = field(default_factory=dict)
    #: photo-restricted students (today, any channel) whose face cannot be recognised: no usable portrait
    unprotected: list[str] = field(default_factory=list)
    #: every student who loses any restriction (not only those left with none), and what they had
    lost: list[str] = field(default_factory=list)
    lost_detail: dict[str, dict[str, str]] = field(default_factory=dict)  # number -> {before, after}
    #: the consent columns read: a column missing next time refuses the sync (check_columns)
    consent_columns: list[str] = field(default_factory=list)

    @property
    def weaker(self) -> str | None:
        """Why protection is weaker after this sync (the CLI exits 3), or None."""
        return face_index.unprotected_warning(len(self.unprotected)) if self.unprotected else None

    def summary(self) -> str:
        lines = [
            f"sync #{self.sync_id} from {self.source} ({self.mapping}, {self.encoding})",
            f"  students in export:     {self.students}",
            f"  photo-restricted:       {self.photo_restricted}",
            f"  name-restricted:        {self.name_restricted}",
            f"  portraits encoded:      {self.portraits_encoded} new, {self.portraits_reused} unchanged",
            f"  face index:             {self.index_summary()}",
            f"  absent from export:     {self.kept_absent} (restrictions kept)",
            f"  students changed:       {self.changed}",
            f"  newly restricted:       {len(self.newly_restricted)}",
            *[f"    + {self.names.get(n, '')} (#{n})" for n in self.newly_restricted],
            f"  newly cleared:          {len(self.newly_cleared)}",
            *[f"    - {self.names.get(n, '')} (#{n})" for n in self.newly_cleared],
            f"  lost a restriction:     {len(self.lost)}",
            *[f"    - {self.names.get(n, '')} (#{n}): before {self.lost_detail[n]['before']}; "
              f"after {self.lost_detail[n]['after']}" for n in self.lost],
            f"  problems:               {len(self.problems)}",
        ]
        lines += [f"    ! {p}" for p in self.problems]
        lines += [f"  note: {n}" for n in self.notes]
        if self.weaker:
            lines.append(f"  protection is weaker: {self.weaker}")
        return "\n".join(lines)

    def index_summary(self) -> str:
        """Whose faces the index knows, and how many portraits each student has in it."""
        who = ("every student with a portrait" if self.index_policy == "all"
               else "photo-restricted students only (--index restricted)")
        students = sum(self.references.values())
        counts = ", ".join(f"{n} with {k} portrait{'s' if k != '1' else ''}"
                           for k, n in sorted(self.references.items(), key=lambda kv: int(kv[0])))
        return f"{who}; {students} student(s) indexed" + (f" ({counts})" if counts else "")

    def to_json(self) -> dict:
        return {**self.__dict__, "protection_weaker": self.weaker}


# -- snapshots: one student's row and consents as plain JSON-able data ---------------------

def snapshot(record: StudentRecord) -> dict:
    return {**{f: getattr(record, f) for f in STUDENT_FIELDS},
            "consents": {f"{s}:{c}": [int(record.consents[(s, c)].restricted),
                                      record.consents[(s, c)].until.isoformat()
                                      if record.consents[(s, c)].until else None]
                         for s in SCOPES for c in CHANNELS}}


def current_snapshots(db: sqlite_utils.Database) -> dict[str, dict]:
    snaps: dict[str, dict] = {}
    for row in stored.student_fields(db, STUDENT_FIELDS):
        number = row.pop("student_number")
        snaps[number] = {**{k: v or "" for k, v in row.items()}, "consents": {}}
    for number, scope, channel, restricted, until in stored.consent_rows(db):
        snaps[number]["consents"][f"{scope}:{channel}"] = [restricted, until]
    return snaps


def consents_of(snap: dict) -> Consents:
    """A snapshot's consents as :mod:`consentguard.roster.consent` states."""
    return {tuple(k.split(":")): State(bool(v[0]), date.fromisoformat(v[1]) if v[1] else None)
            for k, v in snap["consents"].items()}


def snap_restricted(snap: dict | None, scope: str | None = None) -> bool:
    """Restricted (for ``scope``, or either) on any channel in a snapshot, as stored."""
    if not snap:
        return False
    return any(v[0] for k, v in snap["consents"].items() if scope is None or k.startswith(scope + ":"))


def describe_restrictions(snap: dict | None) -> str:
    """A snapshot's restrictions in words: 'photo on all channels, name on social, website'."""
    parts = []
    for scope in SCOPES:
        channels = [c for c in CHANNELS if (snap or {}).get("consents", {}).get(f"{scope}:{c}", [0])[0]]
        if channels:
            parts.append(f"{scope} on {'all channels' if channels == list(CHANNELS) else ', '.join(channels)}")
    return ", ".join(parts) or "no restriction"


def restrictions_held(snap: dict | None) -> list[str]:
    """(scope:channel) restrictions in a snapshot."""
    return [k for k, v in (snap or {}).get("consents", {}).items() if v[0]]


def restrictions_lost(before: dict | None, after: dict | None) -> list[str]:
    """(scope:channel) restrictions present before and absent after."""
    if not before:
        return []
    after_consents = (after or {}).get("consents", {})
    return [k for k, v in before["consents"].items() if v[0] and not after_consents.get(k, [1])[0]]


def write_snapshot(db, number: str, snap: dict, sync_id: int, first: bool) -> None:
    row = {"student_number": number, **{f: snap[f] for f in STUDENT_FIELDS},
           "photo_restricted": int(snap_restricted(snap, "photo")),
           "name_restricted": int(snap_restricted(snap, "name")), "last_seen_sync_id": sync_id}
    if first:
        row["first_sync_id"] = sync_id
    stored.write_student(db, row, [{"student_number": number, "scope": k.split(":")[0], "channel": k.split(":")[1],
                                    "restricted": v[0], "until": v[1]} for k, v in snap["consents"].items()])


# -- the sync ------------------------------------------------------------------------------

def finish_run(db, sync_id: int, status: str, message: str, sha: str | None = None) -> None:
    """Close a refused or failed run in the history (its own small transaction)."""
    with transaction(db):
        stored.update_run(db, sync_id, {"finished_at": now(), "status": status, "message": message,
                                        **({"source_sha256": sha} if sha else {})})


def mark_interrupted(db) -> int:
    """Runs still 'running' when the writer lock is free were killed (or the machine went down)
    before they finished: nothing of them was applied (the apply is one transaction). Say so."""
    with transaction(db):
        return stored.mark_interrupted(db, now())


def check_guards(roster: Roster, before: dict[str, dict], previous: set[str], mapping: Mapping) -> str | None:
    """Why this export looks like a truncated or wrong file, or None."""
    g = mapping.guards
    missing = previous - set(roster.records)
    if len(missing) >= g.min_drop_count and len(missing) > g.max_drop_students * len(previous):
        return (f"{len(missing)} of {len(previous)} students in the last sync are missing from this export "
                f"(more than {g.max_drop_students:.0%}); is the file truncated or from the wrong school?")
    # Every restricted student on record counts, not only those in the last export: a student left
    # out of a few exports (keeping their opt-out) who comes back cleared is a lost restriction too.
    was_restricted = {n for n in before if snap_restricted(before[n])}
    # Restrictions (scope:channel) each student would lose; a student missing now who was in the last
    # export has them all at risk (one absent already keeps them: absence never clears an opt-out).
    lost = {n: restrictions_lost(before[n], snapshot(roster.records[n])) if n in roster.records
            else restrictions_held(before[n]) if n in previous else [] for n in was_restricted}
    dropped = {n for n, keys in lost.items() if keys}
    held = sum(len(restrictions_held(before[n])) for n in was_restricted)
    lifted = sum(len(keys) for keys in lost.values())
    if len(dropped) >= g.min_drop_count and len(dropped) > g.max_drop_restricted * len(was_restricted):
        return (f"{len(dropped)} of {len(was_restricted)} restricted students would be missing or lose a "
                f"restriction ({lifted} restrictions; more than {g.max_drop_restricted:.0%}); "
                f"has a consent column changed meaning? {_would_lose(dropped, before)}")
    if len(dropped) >= g.min_drop_count and lifted > g.max_drop_restricted * held:
        return (f"{lifted} of {held} restrictions held in the last sync would be missing or lifted "
                f"(more than {g.max_drop_restricted:.0%}), for {len(dropped)} student(s); "
                f"has a consent column changed meaning? {_would_lose(dropped, before)}")
    return None


def _would_lose(numbers, before: dict[str, dict], shown: int = 10) -> str:
    """The students a refused sync would have cleared, by name, so the admin can check a few of them
    in the SIS before deciding: "Would lose a restriction: Ann Lee (#1), Bo Kim (#2) and 3 more." """
    ordered = sorted(numbers, key=lambda n: (str(before.get(n, {}).get("last_name") or ""), n))
    named = ", ".join(f"{_full_name(before.get(n))} (#{n})" for n in ordered[:shown])
    more = f" and {len(ordered) - shown} more" if len(ordered) > shown else ""
    return f"Would lose a restriction: {named}{more}."


def _full_name(snap: dict | None) -> str:
    return " ".join(p for p in ((snap or {}).get("first_name"), (snap or {}).get("last_name")) if p) or "(no name)"


def last_consent_columns(db: sqlite_utils.Database) -> tuple[int, list[str]] | None:
    """(sync id, consent columns read) of the latest ok sync that recorded them, or None."""
    for sync_id, report in stored.ok_run_reports(db):
        columns = json.loads(report).get("consent_columns")
        if columns is not None:
            return sync_id, columns
    return None


def check_columns(db: sqlite_utils.Database, roster: Roster, before: dict[str, dict]) -> str | None:
    """Why a consent column read by the last sync and absent now must not silently clear
    the opt-outs it held (an optional column dropped from the export, or another mapping), or None."""
    last = last_consent_columns(db)
    if last is None:
        return None
    sync_id, columns = last
    gone = [c for c in columns if c not in roster.consent_columns]
    if not gone:
        return None
    losing = [n for n, r in roster.records.items() if restrictions_lost(before.get(n), snapshot(r))]
    names = " and ".join(f"'{c}'" for c in gone)
    many = len(gone) > 1
    return (f"consent column{'s' if many else ''} {names} {'were' if many else 'was'} in the last sync "
            f"(#{sync_id}) and {'are' if many else 'is'} missing now; {len(losing)} student(s) would lose a "
            "restriction in this sync." + (f" {_would_lose(losing, before)}" if losing else ""))


def sync_roster(db: sqlite_utils.Database, export: str | Path, photos: str | Path | None = None,
                policy: Policy | None = None, mapping: Mapping | None = None,
                accept_drop: bool = False, consent: str | Path | None = None,
                index_policy: str | None = None) -> SyncReport:
    """Import ``export`` (and portraits from ``photos``; consent from ``consent`` for
    mappings that join a second file) as one sync run. ``index_policy`` None: the last sync's
    policy, or the default (``all``) on a database never synced (see :func:`resolve_index_policy`)."""
    policy = without_face_recognition_if_off(db, policy or Policy())
    mapping = (mapping or load_preset("powerschool")).with_policy_guards(policy)
    if index_policy is not None and index_policy not in face_index.INDEX_POLICIES:
        raise ValueError(f"index policy must be one of {', '.join(face_index.INDEX_POLICIES)}")
    index_policy, source, before, notes = resolve_index_policy(db, index_policy)
    if mapping.policy == "opt-in":
        # Only students with a current release may be shown: a face must be recognised as one of
        # them, so every student's portrait is needed (restricted-only would send every face to review).
        index_policy = "all"
        notes = ["opt-in district: every student's portrait is indexed, so that a face can be "
                 "recognised as a student with a current release"]
    with writer_lock(db, "sync"):
        return _locked_sync(db, export, photos, policy, mapping, accept_drop, consent, index_policy, notes,
                            (source, before if before != index_policy else None))


def resolve_index_policy(db, requested: str | None) -> tuple[str, str, str | None, list[str]]:
    """(policy, how it was set, the previous policy, notes for the report) of a sync.

    ``--index`` given: that policy. Not given: the policy of the last sync, so a nightly sync
    without the option never changes whose biometric data is stored; on a new database, the
    default, ``all``. A database kept at ``restricted`` (the default before this version) is told
    every sync that the default changed, what it costs, and how to switch."""
    last = policy_sync(db)
    before = last[1] if last else None
    cost = RESTRICTED_INDEX_COST
    if requested is not None:
        notes = []
        if before is not None and before != requested:
            notes.append(f"index policy changed from '{before}' (sync #{last[0]}) to '{requested}': "
                         + ("every student's portrait is now encoded (give --photos with all portraits)"
                            if requested == "all" else
                            "stored encodings of permitted students are deleted; " + cost))
        return requested, "chosen", before, notes
    if before is None:
        return face_index.DEFAULT_INDEX_POLICY, "default", None, [
            f"index policy '{face_index.DEFAULT_INDEX_POLICY}' (the default): every student's portrait is "
            "encoded, so a face recognised as a permitted student is cleared as them; to store only "
            "photo-restricted students' encodings, sync with --index restricted (" + cost + ")"]
    notes = []
    if before == "restricted":
        notes.append(f"index policy kept at 'restricted' from sync #{last[0]}: the default for new databases "
                     f"is now 'all'. {cost[0].upper() + cost[1:]}. To index every student, sync once with "
                     "--index all (later syncs keep it); to keep 'restricted', do nothing")
    return before, "kept", None, notes


def _locked_sync(db, export, photos, policy: Policy, mapping: Mapping, accept_drop: bool, consent,
                 index_policy: str, notes: list[str], index_how: tuple[str, str | None]) -> SyncReport:
    """The sync, holding the writer lock: the run is in the history from its first moment (status
    'running'), so a sync killed mid-way is found and marked 'interrupted' by the next one."""
    mark_interrupted(db)
    with transaction(db):
        sync_id = stored.start_run(db, {
            "started_at": now(), "os_user": os_user(), "source": str(export),
            "photos": str(photos) if photos else None, "status": "running", "mapping": mapping.name,
            "index_policy": index_policy, "consent_policy": mapping.policy})
    try:
        roster = read_export(export, mapping, consent)
        before = current_snapshots(db)
        last = latest_sync_id(db)
        previous = stored.students_seen_in(db, last) if last else set()
        refusals = [r for r in (check_columns(db, roster, before), check_guards(roster, before, previous, mapping))
                    if r]
        if refusals and not accept_drop:
            raise SyncRefused(f"{roster.source}: {refusals[0]} Nothing imported; "
                              "run again with --accept-drop if this is expected")
        problems = list(roster.problems)
        problems.extend(Problem(f"accepted with --accept-drop: {r}") for r in refusals)
        portraits, reused = _portraits(db, roster, photos, policy, problems, notes, index_policy)
    except RosterError as exc:  # refused by a guard, or unreadable: kept in the history either way
        finish_run(db, sync_id, "refused" if isinstance(exc, SyncRefused) else "failed", str(exc))
        raise
    except BaseException as exc:  # a bug or Ctrl-C: nothing was applied; say so in the history
        finish_run(db, sync_id, "failed", f"{export}: sync stopped before anything was applied: {exc!r}")
        raise
    try:
        with transaction(db):
            report = _apply(db, roster, before, portraits, reused, sync_id, problems, index_policy,
                            policy.face_recognition)
            report.notes = notes
            report.index_policy_source, report.index_policy_before = index_how
            stored.update_run(db, sync_id, {
                "finished_at": now(), "status": "ok", "source": roster.source, "source_sha256": roster.sha256,
                "students": report.students, "restricted": report.photo_restricted + report.name_restricted,
                "portraits_encoded": report.portraits_encoded, "report": json.dumps(report.to_json())})
    except ConsentGuardError:
        finish_run(db, sync_id, "failed", f"{roster.source}: sync failed and was rolled back")
        raise
    except BaseException as exc:  # the transaction rolled back: yesterday's roster stays
        message = f"{roster.source}: sync failed and was rolled back: {exc}"
        finish_run(db, sync_id, "failed", message, roster.sha256)
        if isinstance(exc, Exception):
            raise RosterError(message) from exc
        raise
    return report


def restore_encodings(db: sqlite_utils.Database, numbers, policy: Policy | None = None) -> list[str]:
    """Re-encode the portraits on record of ``numbers`` whose encodings were purged (when a
    restriction was lifted), from the files they came from if those are unchanged (same SHA-256):
    a restriction re-imposed by a rollback protects the face again. The students restored."""
    from consentguard.inspect.image import sha256_bytes

    policy = without_face_recognition_if_off(db, policy or Policy())
    restored = []
    if not policy.face_recognition:  # nothing biometric is computed in this mode
        return restored
    for number in numbers:
        for sha, source in stored_portraits.purged(db, number):
            try:
                data = Path(source).read_bytes()
            except OSError:  # moved, or a member of a zip: the next sync with --photos restores it
                continue
            if sha256_bytes(data) != sha:
                continue
            result = prepare_portrait(data, source, number, policy).encode(enrol_rivals=True)
            if result.status == "encoded":
                with transaction(db):
                    stored_portraits.set_encoding(db, number, sha, face_index.encoding_to_blob(result.encoding))
                restored.append(number)
    return sorted(set(restored))


def _portraits(db, roster: Roster, photos, policy: Policy, problems: list[Problem], notes: list[str],
               index_policy: str) -> tuple[list[PortraitResult], int]:
    """Encode the portraits the index needs that are new or changed (by content hash). With face
    recognition off nothing is read or encoded."""
    if not policy.face_recognition:
        if photos is not None:
            notes.append(f"face recognition is off: the portraits in {photos} were not read, and no face is "
                         "encoded or stored (consentguard config get face_recognition)")
        return [], 0
    if photos is None:
        return [], 0
    source: PortraitSource = open_portraits(Path(photos))
    problems.extend(Problem(p) for p in source.problems)
    known = stored_portraits.known(db)
    # a photo-restricted student's portrait refused for two faces is tried again (it may have been
    # refused before they were restricted): now both faces are enrolled
    refused = stored_portraits.refused_for_two_faces(db)
    results, reused = [], 0
    everyone = set(roster.records) | stored.student_numbers(db)
    for record in roster.records.values():
        if not face_index.needs_index(record.consents, index_policy):
            continue
        found, note = source.find(record.student_number, everyone)
        if note:
            problems.append(Problem(f"{record.full_name} (#{record.student_number}): {note}",
                                    None, record.student_number))
        for name, data in found:
            result = prepare_portrait(data, name, record.student_number, policy)
            key = (record.student_number, result.sha256)
            if key in known and not (key in refused and _photo_restricted(record)):
                reused += 1
                continue
            result = result.encode(enrol_rivals=_photo_restricted(record))
            results.append(result)
            if result.rivals:
                problems.append(Problem(f"{record.full_name} (#{record.student_number}): {result.detail}",
                                        None, record.student_number))
            if result.problem:
                problems.append(Problem(f"{record.full_name} (#{record.student_number}): {result.problem}",
                                        None, record.student_number))
            if result.note:
                notes.append(f"{record.full_name} (#{record.student_number}): {result.note}")
    return results, reused


def _photo_restricted(record) -> bool:
    """Whether a student is photo-restricted on any channel (now or when a release ends): an
    ambiguous portrait of theirs enrols both faces rather than leave them unprotected."""
    return any(state.restricted or state.until for (scope, _), state in record.consents.items() if scope == "photo")


def _apply(db, roster: Roster, before: dict[str, dict], portraits: list[PortraitResult], reused: int,
           sync_id: int, problems: list[Problem], index_policy: str, face_recognition: bool = True) -> SyncReport:
    newly_restricted, newly_cleared, changed = [], [], 0
    lost: dict[str, dict[str, str]] = {}
    loose = {n.lstrip("0"): n for n in before}
    for number, record in roster.records.items():
        old, new = before.get(number), snapshot(record)
        twin = loose.get(number.lstrip("0")) if old is None else None
        if twin and twin != number:
            problems.append(Problem(
                f"student number {number} ({record.full_name}) equals existing {twin} but for leading zeros "
                f"(dropped by a spreadsheet?); imported as a separate student, {twin} keeps their consent",
                record.lines[0], number))
        if old == new:
            continue
        changed += 1
        if snap_restricted(new) and not snap_restricted(old):
            newly_restricted.append(number)
        if snap_restricted(old) and not snap_restricted(new):
            newly_cleared.append(number)
        if restrictions_lost(old, new):
            lost[number] = {"before": describe_restrictions(old), "after": describe_restrictions(new)}
        write_snapshot(db, number, new, sync_id, first=old is None)
        stored.add_change(db, sync_id, number, old, new)
    stored.mark_seen(db, sync_id, roster.records)
    for p in portraits:
        stored_portraits.save(db, {
            "student_number": p.student_number, "sha256": p.sha256, "source": p.source,
            "box": face_index.portrait_box(p.box), "status": p.status, "sync_id": sync_id,
            "encoding": face_index.encoding_to_blob(p.encoding) if p.encoding is not None else None,
        })
    face_index.purge_unneeded(db, index_policy)
    references = reference_counts(db, index_policy)
    # with face recognition off no face is recognised by design (every face is a review): not "weaker"
    unprotected = face_index.unprotected(db) if face_recognition else {}
    for number, name in unprotected.items():
        problems.append(Problem(f"{name} (#{number}) is photo-restricted but has no usable portrait: "
                                "their face cannot be recognised", None, number))
    records = roster.records.values()
    return SyncReport(
        sync_id=sync_id, source=roster.source, students=len(roster.records),
        photo_restricted=sum(r.photo_restricted for r in records),
        name_restricted=sum(r.name_restricted for r in records),
        portraits_encoded=sum(p.status == "encoded" for p in portraits),
        portraits_reused=reused, kept_absent=len(set(before) - set(roster.records)),
        newly_restricted=newly_restricted, newly_cleared=newly_cleared, changed=changed,
        problems=[str(p) for p in problems],
        names={n: roster.records[n].full_name for n in newly_restricted + newly_cleared + list(lost)},
        mapping=roster.mapping.name, encoding=roster.encoding, index_policy=index_policy,
        references=references, unprotected=list(unprotected), lost=list(lost), lost_detail=lost,
        consent_columns=roster.consent_columns)


def reference_counts(db, index_policy: str) -> dict[str, int]:
    """Indexed students per number of usable portraits: {"1": 180, "2": 40}."""
    rows = list(stored_portraits.encoded_counts(db).items())
    if index_policy != "all":
        restricted = stored.index_needed(db)
        rows = [r for r in rows if r[0] in restricted]
    counts: dict[str, int] = {}
    for _, n in rows:
        counts[str(n)] = counts.get(str(n), 0) + 1
    return counts


__all__ = ["SyncReport", "sync_roster", "snapshot", "current_snapshots", "restrictions_lost"]
