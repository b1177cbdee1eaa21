"""Storage: a private SQLite file, migrated from day one, refusing what it cannot read."""

import os
import stat

import pytest

from consentguard.db import SCHEMA_VERSION, default_db_path, open_db, schema_version
from consentguard.errors import DatabaseError


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
