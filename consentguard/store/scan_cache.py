"""The scan cache as stored: a photo's result and evidence per content hash and version (what the
verdict depends on), so a later scan decides it again without looking at it again."""

from __future__ import annotations

import sqlite_utils


def cached(db: sqlite_utils.Database, sha256: str, version: str) -> tuple | None:
    """(result JSON, thumbnail, evidence JSON) of a photo cached with its evidence, or None."""
    return db.execute("SELECT result, thumbnail, evidence FROM scan_cache WHERE sha256 = ? AND version = ? "
                      "AND evidence IS NOT NULL", [sha256, version]).fetchone()


def save(db: sqlite_utils.Database, sha256: str, version: str, result: str, thumbnail: bytes | None,
         evidence: str) -> None:
    db["scan_cache"].upsert({"sha256": sha256, "version": version, "result": result,
                             "thumbnail": thumbnail, "evidence": evidence}, pk=("sha256", "version"))


def purge_evidence(db: sqlite_utils.Database) -> int:
    """Empty the evidence (face encodings, close-ups) of every cached result; how many had any."""
    return db.execute("UPDATE scan_cache SET evidence = NULL WHERE evidence IS NOT NULL").rowcount


def with_faces(db: sqlite_utils.Database) -> int:
    """Cached results whose evidence holds a face encoding or close-up."""
    return db.execute("SELECT count(*) FROM scan_cache WHERE evidence LIKE '%\"encoding\": \"%' "
                      "OR evidence LIKE '%\"closeup\": \"%'").fetchone()[0]
