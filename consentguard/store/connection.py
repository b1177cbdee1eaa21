"""What every storage module shares about a connection: one IMMEDIATE transaction, the file
behind it, and the time and user stamped on the rows written.

The lowest layer of :mod:`consentguard.store`: it imports no other module of the package, so
the schema (:mod:`.db`), the hash chain (:mod:`.chain`) and the audit trail (:mod:`.audit`) can
all build on it without importing one another in a circle.
"""

from __future__ import annotations

import getpass
from datetime import datetime, timezone

import sqlite_utils


class transaction:
    """``with transaction(db):`` runs the block in one IMMEDIATE transaction."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def database_file(db: sqlite_utils.Database) -> str | None:
    """The file behind ``db`` (None for an in-memory database)."""
    for _, name, file in db.execute("PRAGMA database_list"):
        if name == "main":
            return file or None
    return None


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"
