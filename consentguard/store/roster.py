"""The roster as stored: students, their consents per scope and channel, the sync runs and the
before/after change of every student each run made.

Only SQL lives here; what a sync, a rollback or a diff means is in :mod:`consentguard.roster`.
"""

from __future__ import annotations

import json
from typing import Iterable, Iterator

import sqlite_utils

#: Students whose portraits the index keeps whatever the policy: photo-restricted on any channel,
#: or with a photo release that can end (so the face is known the day it does).
NEEDS_INDEX_SQL = ("SELECT student_number FROM consents WHERE scope = 'photo' "
                   "AND (restricted = 1 OR until IS NOT NULL)")


# -- students and consents -------------------------------------------------------------------

def student_rows(db: sqlite_utils.Database) -> list[tuple]:
    """(number, first, last, middle, school, legal first name) of every student ('' for none)."""
    return db.execute(
        "SELECT student_number, first_name, last_name, coalesce(middle_name, ''), coalesce(school_id, ''), "
        "coalesce(legal_first_name, '') FROM students").fetchall()


def consents_that_may_restrict(db: sqlite_utils.Database, channel: str | None) -> Iterator[tuple[str, str, int, str | None]]:
    """(student_number, scope, restricted, until) of the consent rows on ``channel`` (None: any)
    that can restrict a student: restricted, or a release with an end date. Whether one restricts
    today is judged by :meth:`consentguard.roster.consent.State.restricted_on` (the one home of
    the expiry rule); permissions without an end date are left out, nothing restricts them."""
    where, params = ("AND channel = ?", [channel]) if channel else ("", [])
    return db.execute("SELECT student_number, scope, restricted, until FROM consents "
                      f"WHERE (restricted = 1 OR until IS NOT NULL) {where}", params)


def index_needed(db: sqlite_utils.Database) -> set[str]:
    """The students whose portraits the index keeps under any policy (:data:`NEEDS_INDEX_SQL`)."""
    return {r[0] for r in db.execute(NEEDS_INDEX_SQL)}


def student_numbers(db: sqlite_utils.Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT student_number FROM students")}


def student_name(db: sqlite_utils.Database, number: str) -> tuple[str, str] | None:
    """(first, last) name of a student on the roster, or None."""
    return db.execute("SELECT first_name, last_name FROM students WHERE student_number = ?", [number]).fetchone()


def school_ids(db: sqlite_utils.Database) -> list[str]:
    """The schools the roster names, sorted."""
    return [r[0] for r in db.execute(
        "SELECT DISTINCT school_id FROM students WHERE school_id IS NOT NULL AND school_id != '' ORDER BY 1")]


def student_fields(db: sqlite_utils.Database, fields: Iterable[str]) -> Iterator[dict]:
    """Every student's number and ``fields``, one dict each."""
    return db.query(f"SELECT student_number, {', '.join(fields)} FROM students")


def consent_rows(db: sqlite_utils.Database) -> Iterator[tuple]:
    """(student_number, scope, channel, restricted, until) of every consent."""
    return db.execute("SELECT student_number, scope, channel, restricted, until FROM consents")


def write_student(db: sqlite_utils.Database, row: dict, consents: list[dict]) -> None:
    """Insert or replace one student and their consents (by scope and channel)."""
    db["students"].upsert(row, pk="student_number", alter=True)
    db["consents"].upsert_all(consents, pk=("student_number", "scope", "channel"))


def students_seen_in(db: sqlite_utils.Database, sync_id: int) -> set[str]:
    """The students the export of sync ``sync_id`` listed (last seen in it)."""
    return {r[0] for r in db.execute("SELECT student_number FROM students WHERE last_seen_sync_id = ?", [sync_id])}


def mark_seen(db: sqlite_utils.Database, sync_id: int, numbers: Iterable[str]) -> None:
    """Students listed by the export of sync ``sync_id``."""
    db.execute("UPDATE students SET last_seen_sync_id = ? WHERE student_number IN "
               "(SELECT value FROM json_each(?))", [sync_id, json.dumps(list(numbers))])


def move_last_seen(db: sqlite_utils.Database, from_id: int | None, to_id: int) -> None:
    """Students last seen in sync ``from_id`` are last seen in ``to_id`` (a rollback run)."""
    db.execute("UPDATE students SET last_seen_sync_id = ? WHERE last_seen_sync_id = ?", [to_id, from_id])


# -- sync runs and their changes ----------------------------------------------------------------

def start_run(db: sqlite_utils.Database, run: dict) -> int:
    """A new row of the sync history; its id."""
    return db["sync_runs"].insert(run).last_pk


def update_run(db: sqlite_utils.Database, sync_id: int, fields: dict) -> None:
    db["sync_runs"].update(sync_id, fields)


def mark_interrupted(db: sqlite_utils.Database, stamp: str) -> int:
    """Runs still 'running' become 'interrupted' at ``stamp``; how many."""
    return db.execute(
        "UPDATE sync_runs SET status = 'interrupted', finished_at = ?, message = 'stopped before it finished "
        "(killed, or the machine went down); nothing of it was applied' WHERE status = 'running'",
        [stamp]).rowcount


def run_status(db: sqlite_utils.Database, sync_id: int) -> str | None:
    """A run's status (ok, refused, failed, ...), None if there is no such run."""
    row = db.execute("SELECT status FROM sync_runs WHERE id = ?", [sync_id]).fetchone()
    return row[0] if row else None


def ok_run_ids(db: sqlite_utils.Database) -> list[int]:
    """The runs that took effect, oldest first."""
    return [r[0] for r in db.execute("SELECT id FROM sync_runs WHERE status = 'ok' ORDER BY id")]


def recent_runs(db: sqlite_utils.Database, limit: int) -> list[dict]:
    """The newest ``limit`` runs, newest first, as ``roster history`` lists them."""
    return list(db.query(
        "SELECT id, started_at, os_user, status, source, students, restricted, mapping, message "
        "FROM sync_runs ORDER BY id DESC LIMIT ?", [limit]))


def ok_run_reports(db: sqlite_utils.Database) -> Iterator[tuple[int, str]]:
    """(sync id, report JSON) of the runs that took effect and kept a report, newest first."""
    return db.execute("SELECT id, report FROM sync_runs WHERE status = 'ok' AND report IS NOT NULL ORDER BY id DESC")


def add_change(db: sqlite_utils.Database, sync_id: int, number: str, before: dict | None, after: dict) -> None:
    """One student's change by a run: their snapshot before (None: new) and after."""
    db["student_changes"].insert({"sync_id": sync_id, "student_number": number,
                                  "before": json.dumps(before) if before else None, "after": json.dumps(after)})


def changes_between(db: sqlite_utils.Database, from_id: int, to_id: int) -> Iterator[tuple[str, str | None, str]]:
    """(student_number, before JSON, after JSON) of the changes after ``from_id`` up to ``to_id``, in order."""
    return db.execute("SELECT student_number, before, after FROM student_changes WHERE sync_id > ? "
                      "AND sync_id <= ? ORDER BY id", [from_id, to_id])
