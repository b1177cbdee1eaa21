"""Audit trail: a hash chain over every check and override; edits and deletions are detected."""

import csv
import io
import json
import sqlite3

import pytest
from click.testing import CliRunner

from consentguard import open_db
from consentguard.cli import cli
from consentguard.store.audit import OverrideError, record_doc, record_override, verify

from conftest import student, write_export


def doc(name, verdict, reasons=(), students=()):
    return {"path": f"/photos/{name}", "sha256": "ab" * 32, "verdict": verdict, "reasons": list(reasons),
            "student_numbers": list(students), "roster_sync_id": 1, "faces": [], "names": []}


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "cg.db"
    db = open_db(path)
    from consentguard import sync_roster
    sync_roster(db, write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee", media="Y")]))
    record_doc(db, doc("a.jpg", "pass"), "cli")
    record_doc(db, doc("b.jpg", "review", ["face at [1, 2, 3, 4] is 40 px wide"], ["1"]), "web")
    record_doc(db, doc("=cmd.jpg", "block", ["caption names Ann Lee"], ["1"]), "scan")
    return path


def tamper(path, sql):
    conn = sqlite3.connect(path)
    conn.executescript("DROP TRIGGER checks_append_only_update; DROP TRIGGER checks_append_only_delete;" + sql)
    conn.commit()
    conn.close()


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_intact_chain_verifies(db_path):
    r = run("audit", "verify", "--db", str(db_path))
    assert r.exit_code == 0 and r.output.startswith("audit trail intact: 3 rows; head ")


def test_rows_cannot_be_changed_through_sqlite(db_path):
    conn = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE checks SET verdict = 'pass' WHERE id = 3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM checks WHERE id = 3")


@pytest.mark.parametrize("sql,problem", [
    ("UPDATE checks SET verdict = 'pass' WHERE id = 3", "row #3 was edited after it was written"),
    ("DELETE FROM checks WHERE id = 2", "rows #2-#2 are missing (deleted)"),
    ("DELETE FROM checks WHERE id = 3", "rows #3-#3 are missing at the end (deleted)"),
])
def test_tampering_is_detected(db_path, sql, problem):
    tamper(db_path, sql)
    r = run("audit", "verify", "--db", str(db_path))
    assert r.exit_code == 1
    assert problem in r.output, r.output


def test_deleted_middle_row_breaks_the_link(db_path):
    tamper(db_path, "DELETE FROM checks WHERE id = 2")
    problems = verify(open_db(db_path)).problems
    assert "rows #2-#2 are missing (deleted)" in problems
    assert "row #3 does not follow the row before it (a row was deleted or replaced)" in problems


def test_override_only_of_a_review_with_a_reason(db_path):
    db = open_db(db_path)
    with pytest.raises(OverrideError, match="needs a written reason"):
        record_override(db, 2, "ok", "jsmith")
    with pytest.raises(OverrideError, match="only a review can be overridden"):
        record_override(db, 3, "The student in the photo is not Ann, checked with her teacher", "jsmith")
    with pytest.raises(OverrideError, match="does not exist"):
        record_override(db, 99, "The student in the photo is not Ann, checked with her teacher", "jsmith")
    row_id = record_override(db, 2, "The small face is a parent volunteer, not a student", "jsmith")
    row = db.execute("SELECT event, ref_id, note, verdict, os_user FROM checks WHERE id = ?", [row_id]).fetchone()
    assert row == ("override", 2, "The small face is a parent volunteer, not a student", "pass", "jsmith")
    assert verify(db).ok and verify(db).rows == 4


def test_export_csv_filters_and_defuses_formulas(db_path):
    r = run("audit", "export", "--db", str(db_path), "--verdict", "block")
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert r.exit_code == 0 and len(rows) == 1
    assert rows[0]["file_name"] == "'=cmd.jpg"  # not run as a formula by a spreadsheet
    assert rows[0]["reasons"] == "caption names Ann Lee" and rows[0]["student_numbers"] == "1"
    assert len(list(csv.DictReader(io.StringIO(run("audit", "export", "--db", str(db_path)).output)))) == 3
    assert run("audit", "export", "--db", str(db_path), "--since", "2999-01-01").output.count("\n") == 1
    bad = run("audit", "export", "--db", str(db_path), "--since", "yesterday")
    assert bad.exit_code == 2 and "'yesterday' is not a date like 2026-09-01" in bad.output


def test_database_from_before_the_chain_is_chained_on_upgrade(tmp_path):
    """A schema-4 database with checks already recorded: migration 5 chains them."""
    from consentguard.store import db as dbmod
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for script in dbmod.MIGRATIONS[:4]:
        for statement in dbmod._statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO checks (checked_at, os_user, interface, file_name, sha256, verdict, reasons, "
                 "student_numbers, sync_id, result) VALUES ('2026-09-01T10:00:00+00:00', 'amy', 'cli', 'x.jpg', "
                 "NULL, 'pass', '[]', '[]', NULL, '{}')")
    conn.commit()
    conn.close()
    db = open_db(path)
    assert verify(db).ok and verify(db).rows == 1
    record_doc(db, {**doc("y.jpg", "pass"), "roster_sync_id": None}, "cli")
    assert verify(db).rows == 2 and verify(db).ok
    assert json.loads(db.execute("SELECT reasons FROM checks WHERE id = 1").fetchone()[0]) == []


def retrigger(path):
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TRIGGER checks_append_only_update BEFORE UPDATE ON checks "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
        "CREATE TRIGGER checks_append_only_delete BEFORE DELETE ON checks "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;")
    conn.close()


@pytest.mark.parametrize("sql,problem", [
    # the last row removed and the sequence rewound: the chain itself looks whole
    ("DELETE FROM checks WHERE id = 3; UPDATE sqlite_sequence SET seq = 2 WHERE name = 'checks'",
     "the trail ends at row #2 but the anchor file says 3 rows were written: rows #3-#3 were removed from the end"),
    # the whole trail emptied
    ("DELETE FROM checks; DELETE FROM sqlite_sequence WHERE name = 'checks'",
     "the trail ends at row #0 but the anchor file says 3 rows were written"),
])
def test_truncation_at_the_end_is_detected_by_the_anchor(db_path, sql, problem):
    tamper(db_path, sql)
    retrigger(db_path)  # even with the triggers put back
    r = run("audit", "verify", "--db", str(db_path))
    assert r.exit_code == 1 and problem in r.output, r.output


def test_missing_triggers_are_a_problem(db_path):
    tamper(db_path, "")
    r = run("audit", "verify", "--db", str(db_path))
    assert r.exit_code == 1
    assert "the append-only trigger checks_append_only_update is missing" in r.output


def test_anchor_file_is_private_and_follows_the_head(db_path):
    anchor = db_path.with_name(db_path.name + ".audit-anchor")
    assert anchor.stat().st_mode & 0o777 == 0o600
    result = verify(open_db(db_path))
    assert json.loads(anchor.read_text()) == {"rows": 3, "head": result.head}
