"""Roster history: list sync runs, show what changed between two, restore an earlier one.

Built on ``student_changes`` (a before/after snapshot for every student a run
changed). A rollback is itself a new sync run with its own change rows, so
history is never rewritten. A rollback that would lift any restriction is
refused unless the caller accepts it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import sqlite_utils

from consentguard.errors import RosterError, SyncRefused
from consentguard.match.index import purge_unneeded
from consentguard.roster.sync import restrictions_lost, snap_restricted, write_snapshot
from consentguard.store import roster as stored
from consentguard.store.db import latest_sync_id, now, os_user, roster_policies, transaction


def runs(db: sqlite_utils.Database, limit: int = 30) -> list[dict]:
    return stored.recent_runs(db, limit)


@dataclass
class Change:
    student_number: str
    before: dict | None
    after: dict | None

    @property
    def name(self) -> str:
        snap = self.after or self.before or {}
        return f"{snap.get('first_name', '')} {snap.get('last_name', '')}".strip()

    def describe(self) -> list[str]:
        if self.before is None:
            kinds = [s for s in ("photo", "name") if snap_restricted(self.after, s)]
            return ["new student" + (f", restricted: {', '.join(kinds)}" if kinds else "")]
        lines = []
        for key in ("first_name", "middle_name", "last_name", "grade_level", "school_id", "enroll_status"):
            a, b = self.before.get(key, ""), (self.after or {}).get(key, "")
            if a != b:
                lines.append(f"{key}: {a!r} -> {b!r}")
        gained = restrictions_lost(self.after, self.before)
        lost = restrictions_lost(self.before, self.after)
        if gained:
            lines.append("now restricted: " + ", ".join(gained))
        if lost:
            lines.append("no longer restricted: " + ", ".join(lost))
        until = [k for k, v in (self.after or {}).get("consents", {}).items()
                 if v[1] != self.before["consents"].get(k, [0, None])[1]]
        if until:
            lines.append("release end dates changed: " + ", ".join(until))
        return lines or ["(no visible change)"]


@dataclass
class Diff:
    from_id: int
    to_id: int
    changes: list[Change] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"changes from sync #{self.from_id} to #{self.to_id}: {len(self.changes)} student(s)"]
        for c in self.changes:
            for i, what in enumerate(c.describe()):
                head = f"  {c.name} (#{c.student_number}): " if i == 0 else " " * (len(c.name) + len(c.student_number) + 8)
                lines.append(head + what)
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"from": self.from_id, "to": self.to_id,
                "changes": [{"student_number": c.student_number, "name": c.name, "changes": c.describe()}
                            for c in self.changes]}


def _ok_run(db, sync_id: int) -> None:
    status = stored.run_status(db, sync_id)
    if status is None:
        raise RosterError(f"sync #{sync_id} does not exist")
    if status != "ok":
        raise RosterError(f"sync #{sync_id} was {status}: it never took effect")


def diff(db: sqlite_utils.Database, from_id: int | None = None, to_id: int | None = None) -> Diff:
    """What changed after sync ``from_id`` up to and including ``to_id`` (default: the last two)."""
    ok = stored.ok_run_ids(db)
    if not ok:
        raise RosterError("no roster has been synced yet")
    to_id = to_id if to_id is not None else ok[-1]
    if from_id is None:
        earlier = [i for i in ok if i < to_id]
        from_id = earlier[-1] if earlier else 0
    if from_id:
        _ok_run(db, from_id)
    _ok_run(db, to_id)
    if from_id >= to_id:
        raise RosterError(f"sync #{from_id} is not before sync #{to_id}")
    first: dict[str, dict | None] = {}
    last: dict[str, dict | None] = {}
    for number, before, after in stored.changes_between(db, from_id, to_id):
        first.setdefault(number, json.loads(before) if before else None)
        last[number] = json.loads(after)
    changes = [Change(n, first[n], last[n]) for n in sorted(last) if first[n] != last[n]]
    return Diff(from_id, to_id, changes)


def rollback(db: sqlite_utils.Database, to_id: int, accept_drop: bool = False) -> tuple[int, Diff]:
    """Restore every student's state as of sync ``to_id``, as a new sync run.

    Students added after ``to_id`` are kept (absence never clears an opt-out).
    Refused if any restriction would be lifted, unless ``accept_drop``.
    """
    from consentguard.match.index import unprotected
    from consentguard.roster.sync import restore_encodings
    from consentguard.store.db import writer_lock

    with writer_lock(db, "rollback"):
        done = _locked_rollback(db, to_id, accept_drop)
        restore_encodings(db, unprotected(db))  # restrictions restored: their faces protected again
        return done


def _locked_rollback(db: sqlite_utils.Database, to_id: int, accept_drop: bool) -> tuple[int, Diff]:
    _ok_run(db, to_id)
    latest = latest_sync_id(db)
    d = diff(db, to_id, latest) if latest != to_id else Diff(to_id, to_id)
    restore = [Change(c.student_number, c.after, c.before) for c in d.changes if c.before is not None]
    lifted = [c for c in restore if restrictions_lost(c.before, c.after)]
    if lifted and not accept_drop:
        raise SyncRefused(
            f"rolling back to sync #{to_id} would lift restrictions of {len(lifted)} student(s) "
            f"({', '.join('#' + c.student_number for c in lifted[:5])}{'…' if len(lifted) > 5 else ''}); "
            "nothing changed; run again with --accept-drop if this is intended")
    with transaction(db):
        sync_id = stored.start_run(db, {
            "started_at": now(), "finished_at": now(), "os_user": os_user(), "source": f"rollback to #{to_id}",
            "status": "ok", "mapping": "rollback", "students": len(restore),
            "message": f"restored {len(restore)} student(s) to their state at sync #{to_id}"})
        for change in restore:
            write_snapshot(db, change.student_number, change.after, sync_id, first=False)
            stored.add_change(db, sync_id, change.student_number, change.before, change.after)
        stored.move_last_seen(db, latest, sync_id)
        purge_unneeded(db, roster_policies(db)[0])
    return sync_id, Diff(latest or 0, sync_id, restore)
