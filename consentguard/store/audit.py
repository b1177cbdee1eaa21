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

import csv
import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from consentguard.store.db import now, os_user

#: The fields the hash covers, in order.
FIELDS = ("id", "checked_at", "os_user", "interface", "file_name", "sha256", "verdict", "reasons",
          "student_numbers", "sync_id", "result", "event", "ref_id", "note", "prev_hash")
GENESIS = "0" * 64
_lock = threading.Lock()


def row_hash(row: dict) -> str:
    canonical = json.dumps([row.get(f) for f in FIELDS], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def chain_rows(rows: list[dict]) -> list[dict]:
    """Rows (with ids, oldest first) given prev_hash and hash (used when the chain is first built)."""
    previous, out = GENESIS, []
    for row in rows:
        row = {**{"event": "check", "ref_id": None, "note": None}, **row, "prev_hash": previous}
        row["hash"] = previous = row_hash(row)
        out.append(row)
    return out


def _append(db: sqlite_utils.Database, row: dict, precondition=None) -> int:
    """Append one row to the chain, atomically. ``precondition(db)`` runs inside the same
    transaction (raising refuses the row): what it checked cannot change before the row is written."""
    from consentguard.store.db import transaction

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
            _write_anchor(db, row["id"], row["hash"])  # inside the write transaction: anchors never race
    return row["id"]


TRIGGERS = ("checks_append_only_update", "checks_append_only_delete")


def anchor_path(db: sqlite_utils.Database) -> Path | None:
    """The anchor file beside the database: the last row's id and hash, kept outside the table,
    so rows removed from the end (and the sequence rewound) or an emptied trail are detected."""
    from consentguard.store.db import database_file
    path = database_file(db)
    return Path(f"{path}.audit-anchor") if path else None


def new_anchor(db: sqlite_utils.Database) -> Verification:
    """Write the anchor file from the current head (after a verify with no other problem): an
    administrator's decision for a database from before anchors or a restored backup."""
    result = verify(db)
    others = [p for p in result.problems if "anchor file" not in p]
    if not others:
        _write_anchor(db, result.rows and db.execute("SELECT max(id) FROM checks").fetchone()[0], result.head)
        result = verify(db)
    return result


def _write_anchor(db: sqlite_utils.Database, rows: int, head: str) -> None:
    import os
    path = anchor_path(db)
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"rows": rows, "head": head}, f)
    os.replace(tmp, path)


def record_check(db: sqlite_utils.Database, result, interface: str) -> int:
    return record_doc(db, result.to_json(), interface)


def record_doc(db: sqlite_utils.Database, doc: dict, interface: str) -> int:
    """Record one result document (as ``CheckResult.to_json()`` gives it)."""
    return _append(db, {
        "checked_at": now(), "os_user": os_user(), "interface": interface,
        "file_name": Path(doc["path"]).name, "sha256": doc["sha256"],
        "verdict": doc["verdict"], "reasons": json.dumps(doc["reasons"]),
        "student_numbers": json.dumps(doc["student_numbers"]),
        "sync_id": doc["roster_sync_id"], "result": json.dumps(doc),
    })


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


def query(db: sqlite_utils.Database, verdict: str | None = None, since: str | None = None,
          until: str | None = None, limit: int | None = None) -> list[dict]:
    """Audit rows, newest first, filtered by verdict and date (YYYY-MM-DD, inclusive)."""
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
    sql = f"SELECT {', '.join(EXPORT_FIELDS)} FROM checks"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
    return [dict(zip(EXPORT_FIELDS, r)) for r in db.execute(sql, params)]


def write_csv(rows: list[dict], out) -> None:
    """Rows as CSV (reasons and student numbers joined with ' | '); cells that a spreadsheet
    would run as formulas are prefixed with a quote (:func:`spreadsheet_safe`)."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_FIELDS)
    for row in rows:
        cells = []
        for name in EXPORT_FIELDS:
            value = row[name]
            if name in ("reasons", "student_numbers") and value:
                value = " | ".join(json.loads(value))
            cells.append(spreadsheet_safe(value))
        writer.writerow(cells)


def spreadsheet_safe(value) -> str:
    """A CSV cell a spreadsheet shows as text: a cell starting like a formula (=, +, -, @, tab,
    carriage return) is prefixed with a quote, so a file or student name cannot run as one."""
    value = "" if value is None else str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
