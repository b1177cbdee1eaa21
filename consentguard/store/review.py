"""The review queue as stored: ``review_items`` (what staff must decide) and ``face_decisions``
(their decisions per face, and undos). Only SQL lives here; what an item and a decision mean is
in :mod:`consentguard.review`.
"""

from __future__ import annotations

from typing import Iterator

import sqlite_utils

ITEM_COLUMNS = "id, kind, status, summary, item, encodings, closeups"


def decisions_in_force(db: sqlite_utils.Database, sha256s: list[str]) -> Iterator[tuple]:
    """The decisions not undone about these photos, oldest first: (id, sha256, box, view, decision,
    student_number, decided_by, decided_at, item_id, in_question JSON from the decision's audit row)."""
    return db.execute(
        "SELECT f.id, f.sha256, f.box, f.view, f.decision, f.student_number, f.decided_by, f.decided_at, "
        "f.item_id, json_extract(c.result, '$.in_question') FROM face_decisions f "
        "LEFT JOIN checks c ON c.id = f.audit_id "
        f"WHERE f.undone_at IS NULL AND f.sha256 IN ({', '.join('?' * len(sha256s))}) ORDER BY f.id", sha256s)


def save_item(db: sqlite_utils.Database, row: dict, stamp: str) -> None:
    """Insert an item, or refresh a stored one (open again; first seen kept)."""
    db.execute(
        "INSERT INTO review_items (id, kind, status, summary, item, encodings, closeups, first_seen, "
        "last_seen) VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
        "status = 'open', summary = excluded.summary, item = excluded.item, encodings = excluded.encodings, "
        "closeups = excluded.closeups, last_seen = excluded.last_seen",
        [row["id"], row["kind"], row["summary"], row["item"], row["encodings"], row["closeups"], stamp, stamp])


def item_row(db: sqlite_utils.Database, item_id: str) -> tuple | None:
    """One item's :data:`ITEM_COLUMNS`, or None."""
    return db.execute(f"SELECT {ITEM_COLUMNS} FROM review_items WHERE id = ?", [item_id]).fetchone()


def item_rows(db: sqlite_utils.Database, include_decided: bool = False) -> list[tuple]:
    """The open items' (``include_decided``: every item's) :data:`ITEM_COLUMNS`, oldest first."""
    where = "" if include_decided else "WHERE status = 'open'"
    return db.execute(f"SELECT {ITEM_COLUMNS} FROM review_items {where} ORDER BY first_seen, id").fetchall()


def item_status(db: sqlite_utils.Database, item_id: str) -> str:
    return db.execute("SELECT status FROM review_items WHERE id = ?", [item_id]).fetchone()[0]


def set_item_status(db: sqlite_utils.Database, item_id: str, status: str) -> None:
    db.execute("UPDATE review_items SET status = ? WHERE id = ?", [status, item_id])


def stored_item_ids(db: sqlite_utils.Database, ids: list[str]) -> set[str]:
    """Which of ``ids`` are stored items."""
    if not ids:
        return set()
    return {r[0] for r in db.execute(f"SELECT id FROM review_items WHERE id IN ({', '.join('?' * len(ids))})", ids)}


def drop_untouched_item(db: sqlite_utils.Database, item_id: str) -> None:
    """Delete an item if it is still open and nobody decided anything on it."""
    db.execute("DELETE FROM review_items WHERE id = ? AND status = 'open' AND NOT EXISTS "
               "(SELECT 1 FROM face_decisions WHERE item_id = ?)", [item_id, item_id])


def purge_item_biometrics(db: sqlite_utils.Database) -> int:
    """Empty the face encodings and close-ups kept with items; how many items had any."""
    return db.execute("UPDATE review_items SET encodings = NULL, closeups = NULL "
                      "WHERE encodings IS NOT NULL OR closeups IS NOT NULL").rowcount


# -- decisions -----------------------------------------------------------------------------------

def add_decision(db: sqlite_utils.Database, row: dict) -> int:
    """Store one decision; its id."""
    return db["face_decisions"].insert(row).last_pk


def item_decision_rows(db: sqlite_utils.Database, item_id: str) -> list[dict]:
    """Every decision on an item, undone ones too, oldest first, as dicts (box as stored)."""
    cursor = db.execute(
        "SELECT id, sha256, box, view, decision, student_number, item_id, note, decided_by, decided_at, "
        "undone_by, undone_at FROM face_decisions WHERE item_id = ? ORDER BY id", [item_id])
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def decided_faces(db: sqlite_utils.Database, item_id: str) -> list[tuple[str, str | None]]:
    """(sha256, box JSON) of the decisions in force from an item."""
    return db.execute("SELECT sha256, box FROM face_decisions WHERE item_id = ? AND undone_at IS NULL",
                      [item_id]).fetchall()


def decision_row(db: sqlite_utils.Database, decision_id: int) -> tuple | None:
    """(sha256, box, decision, student_number, item_id, audit_id, undone_at) of a decision, or None."""
    return db.execute("SELECT sha256, box, decision, student_number, item_id, audit_id, undone_at FROM face_decisions "
                      "WHERE id = ?", [decision_id]).fetchone()


def mark_undone(db: sqlite_utils.Database, decision_id: int, by: str, at: str, audit_id: int) -> None:
    db.execute("UPDATE face_decisions SET undone_by = ?, undone_at = ?, undo_audit_id = ? WHERE id = ?",
               [by, at, audit_id, decision_id])


def other_confirmation(db: sqlite_utils.Database, number: str, sha256: str, item_id: str) -> str | None:
    """The item of another ``is`` of this student in this photo still in force (the oldest), or None."""
    row = db.execute("SELECT item_id FROM face_decisions WHERE decision = 'is' AND student_number = ? AND sha256 = ? "
                     "AND undone_at IS NULL AND item_id IS NOT NULL AND item_id != ? ORDER BY id LIMIT 1",
                     [number, sha256, item_id]).fetchone()
    return row[0] if row else None


def items_with_faces(db: sqlite_utils.Database) -> int:
    """Review items that keep face encodings or close-ups."""
    return db.execute("SELECT count(*) FROM review_items WHERE encodings IS NOT NULL OR closeups IS NOT NULL"
                      ).fetchone()[0]
