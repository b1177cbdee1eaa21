"""Storage: a private SQLite file, migrated from day one, refusing what it cannot read."""

import os
import stat

import pytest

from consentguard.errors import DatabaseError
from consentguard.store.db import SCHEMA_VERSION, default_db_path, open_db, schema_version


def test_created_owner_only(tmp_path):
    path = tmp_path / "new" / "cg.db"
    db = open_db(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert schema_version(db) == SCHEMA_VERSION
    assert {"students", "portraits", "sync_runs", "checks"} <= set(db.table_names())


def test_reopen_does_not_migrate_again(tmp_path):
    open_db(tmp_path / "cg.db")["students"]
    db = open_db(tmp_path / "cg.db")
    assert schema_version(db) == SCHEMA_VERSION


def test_newer_schema_refused(tmp_path):
    db = open_db(tmp_path / "cg.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(DatabaseError, match="is newer than this consentguard"):
        open_db(tmp_path / "cg.db")


def test_corrupt_file_refused(tmp_path):
    (tmp_path / "cg.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match=r"cg\.db: not a usable consentguard database"):
        open_db(tmp_path / "cg.db")


def test_missing_without_create(tmp_path):
    with pytest.raises(DatabaseError, match="no consentguard database here"):
        open_db(tmp_path / "none.db", create=False)
    assert not (tmp_path / "none.db").exists()


def test_env_var_sets_default(monkeypatch, tmp_path):
    monkeypatch.setenv("CONSENTGUARD_DB", str(tmp_path / "env.db"))
    assert default_db_path() == tmp_path / "env.db"
    monkeypatch.delenv("CONSENTGUARD_DB")
    assert default_db_path().name == "consentguard.db"
    assert os.fspath(default_db_path()).startswith(os.path.expanduser("~"))


def _file_with_an_encoding(path):
    import numpy as np

    from consentguard import open_db
    from consentguard.match.index import encoding_to_blob

    db = open_db(path)
    db["sync_runs"].insert({"started_at": "x", "os_user": "u", "source": "s", "status": "ok"})
    db["students"].insert({"student_number": "1", "first_name": "A", "last_name": "B", "photo_restricted": 1,
                           "name_restricted": 0})
    secret = encoding_to_blob(np.random.default_rng(7).random(128))
    db["portraits"].insert({"student_number": "1", "sha256": "h", "source": "p.jpg", "status": "encoded",
                            "encoding": secret})
    db.conn.close()
    assert secret[:64] in path.read_bytes()
    return secret


def test_purged_encodings_leave_no_trace_in_the_file(tmp_path):
    """secure_delete: a purged encoding is overwritten, not left in the file's free pages (on SQLite
    builds whose default is off, as the control shows)."""
    import sqlite3

    import sqlite_utils

    from consentguard import open_db
    from consentguard.match.index import purge_all

    control = tmp_path / "control.db"
    secret = _file_with_an_encoding(control)
    conn = sqlite3.connect(control, isolation_level=None)
    conn.execute("PRAGMA secure_delete = OFF")
    assert purge_all(sqlite_utils.Database(conn)) == 1
    conn.close()
    assert secret[:64] in control.read_bytes()  # without secure_delete the bytes stay in the file

    path = tmp_path / "cg.db"
    secret = _file_with_an_encoding(path)
    db = open_db(path)
    assert purge_all(db) == 1
    db.conn.close()
    assert secret[:64] not in path.read_bytes()
