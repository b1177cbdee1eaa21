"""Portraits and references as stored: one row per (student, photo content), with its face
encoding while the index needs it (see :mod:`consentguard.match.index`).

Only SQL lives here. Encodings are biometric data: every purge is a function of its own.
"""

from __future__ import annotations

import sqlite_utils

from consentguard.store.roster import NEEDS_INDEX_SQL


def encoded(db: sqlite_utils.Database) -> list[tuple[str, bytes]]:
    """(student_number, encoding blob) of every portrait with an encoding, oldest first."""
    return db.execute("SELECT student_number, encoding FROM portraits WHERE encoding IS NOT NULL "
                      "ORDER BY id").fetchall()


def encoded_students(db: sqlite_utils.Database) -> set[str]:
    """The students with at least one encoded portrait."""
    return {r[0] for r in db.execute("SELECT DISTINCT student_number FROM portraits WHERE encoding IS NOT NULL")}


def encoded_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Encoded portraits per student (students with none left out)."""
    return dict(db.execute("SELECT student_number, count(*) FROM portraits WHERE encoding IS NOT NULL "
                           "GROUP BY student_number").fetchall())


def index_state(db: sqlite_utils.Database) -> tuple:
    """(count, newest id) of the encoded portraits: changes when a reference is added or purged."""
    return tuple(db.execute("SELECT count(*), max(id) FROM portraits WHERE encoding IS NOT NULL").fetchone())


def known(db: sqlite_utils.Database) -> set[tuple[str, str]]:
    """(student_number, sha256) of the portraits a sync need not encode again: refused ones, and
    encoded ones whose encoding is still there."""
    return {(r[0], r[1]) for r in db.execute("SELECT student_number, sha256 FROM portraits "
                                             "WHERE status != 'encoded' OR encoding IS NOT NULL")}


def refused_for_two_faces(db: sqlite_utils.Database) -> set[tuple[str, str]]:
    """(student_number, sha256) of the portraits refused for showing several faces."""
    return {(r[0], r[1]) for r in db.execute("SELECT student_number, sha256 FROM portraits "
                                             "WHERE status = 'many_faces'")}


def save(db: sqlite_utils.Database, row: dict) -> None:
    """Insert or replace a portrait (by student and content hash)."""
    db["portraits"].upsert(row, pk=("student_number", "sha256"))


def purged(db: sqlite_utils.Database, number: str) -> list[tuple[str, str]]:
    """(sha256, source) of a student's portraits that were encoded and whose encoding was purged."""
    return db.execute("SELECT sha256, source FROM portraits WHERE student_number = ? AND status = 'encoded' "
                      "AND encoding IS NULL", [number]).fetchall()


def set_encoding(db: sqlite_utils.Database, number: str, sha256: str, blob: bytes) -> None:
    db.execute("UPDATE portraits SET encoding = ? WHERE student_number = ? AND sha256 = ?", [blob, number, sha256])


def purge_unneeded(db: sqlite_utils.Database) -> int:
    """Delete the encodings of the students the restricted-only index does not keep; how many."""
    return db.execute("UPDATE portraits SET encoding = NULL WHERE encoding IS NOT NULL AND student_number NOT IN "
                      f"({NEEDS_INDEX_SQL})").rowcount


def purge_all(db: sqlite_utils.Database) -> int:
    """Delete every portrait encoding (the rows and their hashes stay); how many."""
    return db.execute("UPDATE portraits SET encoding = NULL WHERE encoding IS NOT NULL").rowcount


# -- references: faces confirmed in review (source "review:<item id>") ------------------------

def needs_index(db: sqlite_utils.Database, number: str) -> bool:
    """Whether the index keeps this student's faces under any policy (restricted, or a release that ends)."""
    return db.execute(f"SELECT 1 FROM ({NEEDS_INDEX_SQL}) WHERE student_number = ?", [number]).fetchone() is not None


def add_reference(db: sqlite_utils.Database, number: str, sha256: str, source: str, box: str | None,
                  blob: bytes, sync_id: int | None) -> bool:
    """Store a confirmed face as an encoded portrait, unless this photo already is one of the
    student's. Whether it was stored."""
    return db.execute(
        "INSERT OR IGNORE INTO portraits (student_number, sha256, source, box, encoding, status, sync_id) "
        "VALUES (?, ?, ?, ?, ?, 'encoded', ?)", [number, sha256, source, box, blob, sync_id]).rowcount == 1


def count_from(db: sqlite_utils.Database, source: str) -> int:
    """How many portraits came from ``source``."""
    return db.execute("SELECT count(*) FROM portraits WHERE source = ?", [source]).fetchone()[0]


def move_reference(db: sqlite_utils.Database, number: str, sha256: str, source: str, to_source: str) -> None:
    db.execute("UPDATE portraits SET source = ? WHERE student_number = ? AND sha256 = ? AND source = ?",
               [to_source, number, sha256, source])


def delete_reference(db: sqlite_utils.Database, number: str, sha256: str, source: str) -> None:
    db.execute("DELETE FROM portraits WHERE student_number = ? AND sha256 = ? AND source = ?",
               [number, sha256, source])


def held(db: sqlite_utils.Database) -> tuple[int, int, int]:
    """(stored encodings, students they belong to, of them faces confirmed in review)."""
    return db.execute("SELECT count(*), count(DISTINCT student_number), "
                      "coalesce(sum(source LIKE 'review:%'), 0) FROM portraits WHERE encoding IS NOT NULL").fetchone()
