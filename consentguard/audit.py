"""Audit: every check is recorded — when, by whom, which file, what verdict and why,
and which roster sync it was judged against.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlite_utils

from .db import now, os_user


def record_check(db: sqlite_utils.Database, result, interface: str) -> int:
    return record_doc(db, result.to_json(), interface)


def record_doc(db: sqlite_utils.Database, doc: dict, interface: str) -> int:
    """Record one result document (as ``CheckResult.to_json()`` gives it)."""
    return db["checks"].insert({
        "checked_at": now(), "os_user": os_user(), "interface": interface,
        "file_name": Path(doc["path"]).name, "sha256": doc["sha256"],
        "verdict": doc["verdict"], "reasons": json.dumps(doc["reasons"]),
        "student_numbers": json.dumps(doc["student_numbers"]),
        "sync_id": doc["roster_sync_id"], "result": json.dumps(doc),
    }).last_pk
