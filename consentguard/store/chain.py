"""The audit trail's hash chain and anchor file: how a row is hashed and linked to the one before,
and where the last row's id and hash are kept outside the table.

Shared by the migration that first builds the chain (:mod:`.db`) and by the trail itself
(:mod:`.audit`); it builds on :mod:`.connection` only, so neither of those imports the other.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import sqlite_utils

from consentguard.store.connection import database_file

#: The fields the hash covers, in order.
FIELDS = ("id", "checked_at", "os_user", "interface", "file_name", "sha256", "verdict", "reasons",
          "student_numbers", "sync_id", "result", "event", "ref_id", "note", "prev_hash")
GENESIS = "0" * 64


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


def anchor_path(db: sqlite_utils.Database) -> Path | None:
    """The anchor file beside the database: the last row's id and hash, kept outside the table,
    so rows removed from the end (and the sequence rewound) or an emptied trail are detected."""
    path = database_file(db)
    return Path(f"{path}.audit-anchor") if path else None


def write_anchor(db: sqlite_utils.Database, rows: int, head: str) -> None:
    """Replace the anchor file (owner-only) with the chain's last row id and head hash."""
    path = anchor_path(db)
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"rows": rows, "head": head}, f)
    os.replace(tmp, path)
