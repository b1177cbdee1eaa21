"""Audit: every check is recorded — when, by whom, which file, what verdict and why,
and which roster sync it was judged against.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlite_utils

from .db import now, os_user


def record_check(db: sqlite_utils.Database, result, interface: str) -> int:
    doc = result.to_json()
    return db["checks"].insert({
        "checked_at": now(), "os_user": os_user(), "interface": interface,
        "file_name": Path(result.path).name, "sha256": result.sha256,
        "verdict": result.verdict, "reasons": json.dumps(result.reasons),
        "student_numbers": json.dumps(doc["student_numbers"]),
        "sync_id": result.sync_id, "result": json.dumps(doc),
    }).last_pk


def recent_checks(db: sqlite_utils.Database, limit: int = 50) -> list[dict]:
    return list(db.query("SELECT * FROM checks ORDER BY id DESC LIMIT ?", [limit]))
