"""What was published, and what the roster said when: the SQL behind ``consentguard recheck`` (issue #15).

Publications are audit events (``event = 'posted'``, ``ref_id`` the check of the photo, ``result`` a
JSON of where and when), so marking a post is as tamper-evident as the check itself. Only SQL lives
here; what a re-check means is in :mod:`consentguard.runners.recheck`.
"""

from __future__ import annotations

import json

import sqlite_utils

#: Columns of an earlier check a re-check starts from.
EARLIER = ("id", "checked_at", "interface", "file_name", "sha256", "verdict", "sync_id", "result")


def published_candidates(db: sqlite_utils.Database) -> list[dict]:
    """Every check that let a photo (or caption) out: verdict pass, or a review released by an
    override. Checks that named no file content (``sha256`` NULL: unreadable) are left out: they
    never passed."""
    rows = db.execute(
        f"SELECT {', '.join(EARLIER)} FROM checks WHERE event = 'check' AND sha256 IS NOT NULL AND "
        "(verdict = 'pass' OR id IN (SELECT ref_id FROM checks WHERE event = 'override')) ORDER BY id").fetchall()
    return [dict(zip(EARLIER, r)) for r in rows]


def overrides(db: sqlite_utils.Database) -> dict[int, tuple[str, str]]:
    """check id -> (when, by whom) it was released."""
    return {r[0]: (r[1], r[2]) for r in db.execute(
        "SELECT ref_id, checked_at, os_user FROM checks WHERE event = 'override' ORDER BY id")}


def posts(db: sqlite_utils.Database) -> dict[int, list[dict]]:
    """check id -> its publications (channel, on, where, path, marked_at, by), oldest first."""
    found: dict[int, list[dict]] = {}
    for ref, at, by, result in db.execute(
            "SELECT ref_id, checked_at, os_user, result FROM checks WHERE event = 'posted' ORDER BY id"):
        found.setdefault(ref, []).append({**json.loads(result or "{}"), "marked_at": at, "by": by})
    return found


def latest_check_of(db: sqlite_utils.Database, sha256: str, channel: str | None = None) -> dict | None:
    """The newest check of this content (any verdict), with whether it was released. ``channel``:
    only checks judged for that channel or for every channel (a check for the website says nothing
    of the yearbook)."""
    where = "" if channel is None else " AND coalesce(json_extract(result, '$.channel'), ?) = ?"
    row = db.execute(f"SELECT {', '.join(EARLIER)} FROM checks WHERE event = 'check' AND sha256 = ?{where} "
                     "ORDER BY id DESC LIMIT 1", [sha256] + ([channel, channel] if channel else [])).fetchone()
    if row is None:
        return None
    found = dict(zip(EARLIER, row))
    found["released"] = db.execute("SELECT 1 FROM checks WHERE event = 'override' AND ref_id = ?",
                                   [found["id"]]).fetchone() is not None
    return found


def changes_after(db: sqlite_utils.Database, sync_id: int) -> list[tuple[int, str, str | None]]:
    """(sync id, student number, JSON snapshot before) of every student change made by a sync run
    after ``sync_id``, newest first: undone in this order, they give the roster as it was then."""
    return db.execute("SELECT sync_id, student_number, before FROM student_changes WHERE sync_id > ? "
                      "ORDER BY sync_id DESC, id DESC", [sync_id]).fetchall()


def portrait_syncs(db: sqlite_utils.Database) -> dict[str, tuple[int, float]]:
    """student number -> (the earliest, the newest) sync run an encoded portrait of theirs is from. A
    reference (a face confirmed in review, source ``review:...``) counts as half a run later than the
    run it was added under: it came after some checks judged against that run."""
    return {r[0]: (r[1], r[2]) for r in db.execute(
        "SELECT student_number, min(sync_id), max(sync_id + CASE WHEN source LIKE 'review:%' THEN 0.5 ELSE 0 END) "
        "FROM portraits WHERE status = 'encoded' AND encoding IS NOT NULL AND sync_id IS NOT NULL "
        "GROUP BY student_number")}


def recheck_findings(db: sqlite_utils.Database) -> set[tuple[int, str]]:
    """(check id, JSON list of students) of re-check findings already in the audit trail (each is recorded once)."""
    return {(r[0], r[1]) for r in db.execute("SELECT ref_id, student_numbers FROM checks WHERE event = 'recheck'")}


def taken_down(db: sqlite_utils.Database) -> dict[int, dict]:
    """check id -> its newest "taken down" mark (id, at, by, note)."""
    return {r[0]: {"id": r[1], "at": r[2], "by": r[3], "note": r[4]} for r in db.execute(
        "SELECT ref_id, id, checked_at, os_user, note FROM checks WHERE event = 'taken-down' ORDER BY id")}


#: Columns of a re-check finding as the audit trail keeps it (the takedown list on the page).
FINDING = ("id", "checked_at", "ref_id", "file_name", "verdict", "reasons", "student_numbers", "note")


def recheck_list(db: sqlite_utils.Database) -> list[dict]:
    """The newest re-check finding recorded for each earlier check (``consentguard recheck`` and the
    nightly job record each finding once), newest first."""
    rows = db.execute(
        f"SELECT {', '.join(FINDING)} FROM checks AS c WHERE event = 'recheck' AND id = "
        "(SELECT max(id) FROM checks WHERE event = 'recheck' AND ref_id = c.ref_id) ORDER BY id DESC").fetchall()
    return [dict(zip(FINDING, r)) for r in rows]


def check_row(db: sqlite_utils.Database, check_id: int) -> dict | None:
    """An earlier check (the columns a re-check starts from), or None."""
    row = db.execute(f"SELECT {', '.join(EARLIER)} FROM checks WHERE id = ? AND event = 'check'",
                     [check_id]).fetchone()
    return dict(zip(EARLIER, row)) if row else None
