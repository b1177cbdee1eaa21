"""Audit: every check and every override, as an append-only hash chain.

Each row of ``checks`` records when, by whom (OS user and interface), which
file (name and SHA-256), the verdict, its reasons, the students concerned and
the roster sync it was judged against. Overrides (a staff member releasing a
photo that needed review, with a written reason) are rows too.

Each row stores the SHA-256 of the previous row's hash and its own fields
(``hash``), so editing or deleting any row breaks the chain from there on; ids
come from AUTOINCREMENT, so deleting the newest rows leaves a gap
(``sqlite_sequence``). SQLite triggers refuse UPDATE and DELETE. :func:`verify`
walks the chain; ``consentguard audit verify`` prints the head hash, which a
district can keep elsewhere (the nightly log) to detect a rebuilt chain.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from consentguard.store.chain import FIELDS, GENESIS, anchor_path, row_hash, write_anchor
from consentguard.store.connection import now, os_user, transaction

_lock = threading.Lock()


def _append(db: sqlite_utils.Database, row: dict, precondition=None) -> int:
    """Append one row to the chain, atomically. ``precondition(db)`` runs inside the same
    transaction (raising refuses the row): what it checked cannot change before the row is written."""
    with _lock, transaction(db):
        if precondition is not None:
            row = {**row, **precondition(db)}
        last = db.execute("SELECT hash FROM checks ORDER BY id DESC LIMIT 1").fetchone()
        seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'checks'").fetchone()
        row = {"event": "check", "ref_id": None, "note": None, **row,
               "id": (seq[0] if seq else 0) + 1, "prev_hash": last[0] if last else GENESIS}
        row["hash"] = row_hash(row)
        db["checks"].insert(row)
        path = anchor_path(db)
        if path is not None and (row["id"] == 1 or path.exists()):  # never recreated silently over a cut trail
            write_anchor(db, row["id"], row["hash"])  # inside the write transaction: anchors never race
    return row["id"]


TRIGGERS = ("checks_append_only_update", "checks_append_only_delete")


def new_anchor(db: sqlite_utils.Database) -> Verification:
    """Write the anchor file from the current head (after a verify with no other problem): an
    administrator's decision for a database from before anchors or a restored backup."""
    result = verify(db)
    others = [p for p in result.problems if "anchor file" not in p]
    if not others:
        write_anchor(db, result.rows and db.execute("SELECT max(id) FROM checks").fetchone()[0], result.head)
        result = verify(db)
    return result


def record_event(db: sqlite_utils.Database, row: dict) -> int:
    """Append another kind of event (a review decision, its undo) with the fields it sets; its id."""
    return _append(db, row)


def record_check(db: sqlite_utils.Database, result, interface: str) -> int:
    return record_doc(db, result.to_json(), interface)


def record_doc(db: sqlite_utils.Database, doc: dict, interface: str, by: str | None = None) -> int:
    """Record one result document (as ``CheckResult.to_json()`` gives it; a video's without its
    tracks' boxes, :func:`without_track_boxes`). ``by``: who checked it (the page's signed-in
    account; default: the operating-system user running the command)."""
    doc = without_track_boxes(doc)
    return _append(db, {
        "checked_at": now(), "os_user": by or os_user(), "interface": interface,
        "file_name": Path(doc["path"]).name, "sha256": doc["sha256"],
        "verdict": doc["verdict"], "reasons": json.dumps(doc["reasons"]),
        "student_numbers": json.dumps(doc["student_numbers"]),
        "sync_id": doc["roster_sync_id"], "result": json.dumps(doc),
    })


def without_track_boxes(doc: dict) -> dict:
    """A video's document with each track's box in every sampled frame (``video.tracks[].boxes``: 15
    faces on screen for 2 minutes are 7,200 boxes, about 250 KB) replaced by when it was seen
    (``start``, ``end``, ``frames``): the audit trail keeps who was seen, how judged and when; the
    boxes are in the check's own output. Any other document is returned as it is."""
    tracks = (doc.get("video") or {}).get("tracks")
    if not tracks:
        return doc
    kept = [{**{k: v for k, v in t.items() if k != "boxes"}, "start": t["boxes"][0][0] if t["boxes"] else None,
             "end": t["boxes"][-1][0] if t["boxes"] else None, "frames": len(t["boxes"])} for t in tracks]
    return {**doc, "video": {**doc["video"], "tracks": kept}}


class OverrideError(ValueError):
    pass


#: Longest override reason and name kept (the audit trail is append-only: it must not be a dump).
MAX_REASON, MAX_USER = 2000, 80


def _visible(text: str) -> int:
    """How many characters of ``text`` a reader can see (not spaces, controls or invisible formats)."""
    import unicodedata
    return sum(1 for c in text if unicodedata.category(c)[0] not in "CZ")


def record_override(db: sqlite_utils.Database, check_id: int, reason: str, user: str, interface: str = "web") -> int:
    """A staff member releases a photo that needed review, with a written reason.
    Only a *review* can be overridden, and only once: a block stays a block. The checks and the
    record are one transaction, so two releases of one review cannot both be written."""
    reason, user = (reason or "").strip(), (user or "").strip()
    if _visible(reason) < 10:
        raise OverrideError("an override needs a written reason (at least 10 visible characters)")
    if len(reason) > MAX_REASON:
        raise OverrideError(f"the reason is too long ({len(reason)} characters; at most {MAX_REASON})")
    if not _visible(user) or len(user) > MAX_USER:
        raise OverrideError(f"an override needs the name of the person who decided (at most {MAX_USER} characters)")
    import unicodedata
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in user + reason.replace("\n", "")):
        # line breaks and direction marks would let a name (or reason) display as something else
        raise OverrideError("an override's name and reason may not contain control or direction characters "
                            "(only the reason may have line breaks)")

    def reviewable(db) -> dict:
        row = db.execute("SELECT verdict, file_name, sha256, student_numbers, sync_id, event FROM checks WHERE id = ?",
                         [check_id]).fetchone()
        if row is None or row[5] != "check":
            raise OverrideError(f"check #{check_id} does not exist")
        if row[0] != "review":
            raise OverrideError(f"check #{check_id} is '{row[0]}': only a review can be overridden")
        done = db.execute("SELECT os_user, checked_at FROM checks WHERE event = 'override' AND ref_id = ? "
                          "ORDER BY id LIMIT 1", [check_id]).fetchone()
        if done:
            raise OverrideError(f"check #{check_id} was already released by {done[0]} at {done[1]}")
        return {"file_name": row[1], "sha256": row[2], "student_numbers": row[3], "sync_id": row[4]}

    return _append(db, {
        "checked_at": now(), "os_user": user, "interface": interface,
        "verdict": "pass", "reasons": json.dumps([f"override of check #{check_id}: {reason}"]),
        "result": "{}", "event": "override", "ref_id": check_id, "note": reason,
    }, reviewable)


@dataclass
class Verification:
    rows: int
    head: str
    problems: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(db: sqlite_utils.Database) -> Verification:
    """Walk the chain: every row's hash recomputed, every link and every id checked."""
    cursor = db.execute(f"SELECT {', '.join(FIELDS)}, hash FROM checks ORDER BY id")
    previous, expected_id, problems, count = GENESIS, 1, [], 0
    for values in cursor:
        row = dict(zip(FIELDS + ("hash",), values))
        count += 1
        if row["id"] != expected_id:
            problems.append(f"rows #{expected_id}-#{row['id'] - 1} are missing (deleted)")
        if row["prev_hash"] != previous:
            problems.append(f"row #{row['id']} does not follow the row before it (a row was deleted or replaced)")
        if row_hash(row) != row["hash"]:
            problems.append(f"row #{row['id']} was edited after it was written")
        previous, expected_id = row["hash"], row["id"] + 1
    seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'checks'").fetchone()
    if seq and seq[0] >= expected_id:
        problems.append(f"rows #{expected_id}-#{seq[0]} are missing at the end (deleted)")
    present = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'checks'"))
    problems += [f"the append-only trigger {t} is missing or altered: rows could have been changed without a trace"
                 for t in TRIGGERS if "RAISE(ABORT" not in (present.get(t) or "").upper()]
    notes: list[str] = []
    path = anchor_path(db)
    anchor = None
    if path is not None and path.exists():
        try:
            anchor = json.loads(path.read_text())
            anchor_rows, anchor_head = int(anchor["rows"]), str(anchor["head"])
        except (ValueError, KeyError, TypeError, OSError):
            problems.append(f"the anchor file {path} cannot be read: truncation at the end cannot be ruled out")
            anchor = None
    elif count:
        problems.append(f"the anchor file {path} is missing: rows removed from the end cannot be ruled out "
                        "(for a database from before anchors, or after restoring a backup: "
                        "'consentguard audit verify --new-anchor' writes one from the current head)")
    if anchor is not None:
        if anchor_rows >= expected_id:
            problems.append(f"the trail ends at row #{expected_id - 1} but the anchor file says {anchor_rows} rows "
                            f"were written: rows #{expected_id}-#{anchor_rows} were removed from the end")
        else:
            at = db.execute("SELECT hash FROM checks WHERE id = ?", [anchor_rows]).fetchone()
            if at is None or at[0] != anchor_head:
                problems.append(f"row #{anchor_rows} is not the row the anchor file recorded (rewritten)")
    return Verification(count, previous, problems, notes)


EXPORT_FIELDS = ("id", "checked_at", "event", "ref_id", "os_user", "interface", "file_name", "sha256", "verdict",
                 "student_numbers", "reasons", "note", "sync_id", "hash")


def web_checks_since(db: sqlite_utils.Database, since: str, by: str | None = None, limit: int = 100) -> list[dict]:
    """The page's checks (their newest audit row per photo) recorded since ``since`` (an ISO time),
    by ``by`` if given, newest first: "today's checks" the page can reopen."""
    where, params = "event = 'check' AND interface = 'web' AND checked_at >= ?", [since]
    if by is not None:
        where += " AND os_user = ?"
        params.append(by)
    rows = db.execute(f"SELECT id, checked_at, file_name, verdict, result FROM checks WHERE {where} AND id IN "
                      f"(SELECT max(id) FROM checks WHERE {where} GROUP BY sha256, file_name) "
                      f"ORDER BY id DESC LIMIT {int(limit)}", params + params).fetchall()
    return [{"check_id": r[0], "checked_at": r[1], "file_name": r[2], "verdict": r[3], "result": json.loads(r[4])}
            for r in rows]


def query(db: sqlite_utils.Database, verdict: str | None = None, since: str | None = None,
          until: str | None = None, limit: int | None = None, student: str | None = None,
          offset: int = 0) -> list[dict]:
    """Audit rows, newest first, filtered by verdict, date (YYYY-MM-DD, inclusive) and ``student``
    (see :func:`_where`); ``limit`` rows from ``offset`` (a page)."""
    where, params = _where(db, verdict, since, until, student)
    sql = f"SELECT {', '.join(EXPORT_FIELDS)} FROM checks{where} ORDER BY id DESC"
    if limit:
        sql += f" LIMIT {int(limit)} OFFSET {max(0, int(offset))}"
    return [dict(zip(EXPORT_FIELDS, r)) for r in db.execute(sql, params)]


def count(db: sqlite_utils.Database, verdict: str | None = None, since: str | None = None,
          until: str | None = None, student: str | None = None) -> int:
    """How many audit rows :func:`query` would give without a limit (the page's "of N")."""
    where, params = _where(db, verdict, since, until, student)
    return db.execute(f"SELECT count(*) FROM checks{where}", params).fetchone()[0]


def _where(db, verdict, since, until, student) -> tuple[str, list]:
    """The WHERE clause of a filtered audit query. ``student``: a student number, or part of a name
    ("Ellery", "marcus ell"), matched against the roster's current names: the rows that name any of
    those students (a check that found them, an override of such a check)."""
    where, params = [], []
    if verdict:
        where.append("verdict = ?")
        params.append(verdict)
    if since:
        where.append("substr(checked_at, 1, 10) >= ?")
        params.append(since)
    if until:
        where.append("substr(checked_at, 1, 10) <= ?")
        params.append(until)
    if student:
        numbers = _students_matching(db, student)
        where.append(f"EXISTS (SELECT 1 FROM json_each(checks.student_numbers) WHERE value IN "
                     f"({', '.join('?' * len(numbers)) or 'NULL'}))")
        params.extend(numbers)
    return (" WHERE " + " AND ".join(where)) if where else "", params


def _students_matching(db, text: str) -> list[str]:
    """The student numbers ``text`` means: itself (also a student no longer on the roster) and every
    student whose first + last (or middle) name contains it, case-insensitively."""
    text = text.strip().lstrip("#")
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = db.execute(
        "SELECT student_number FROM students WHERE first_name || ' ' || last_name LIKE ? ESCAPE '\\' "
        "OR first_name || ' ' || coalesce(middle_name, '') || ' ' || last_name LIKE ? ESCAPE '\\'",
        [pattern, pattern]) if "students" in db.table_names() else []
    return sorted({text, *(r[0] for r in rows)})
