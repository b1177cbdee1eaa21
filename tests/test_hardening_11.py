"""Issue #11 red-team reproductions (second pass), fixed: each test asserts the safe behaviour and
failed before its fix; each docstring gives the root cause and place."""

from __future__ import annotations

import os
import sqlite3

import pytest

from consentguard import open_db, sync_roster
from consentguard.errors import SyncRefused

from conftest import HEADER, student, write_export


def roster(n, restricted=(), skip=()):
    return [student(str(1000 + i), f"First{i}", f"Last{i}", media="Y" if i in restricted else "")
            for i in range(n) if i not in skip]


def restricted_now(db):
    return {r[0] for r in db.execute("SELECT student_number FROM students WHERE photo_restricted = 1")}


# -- (a) clearing restrictions without --accept-drop ------------------------------------------------

def test_guard_counts_restricted_students_absent_from_the_last_sync(tmp_path, db_path):
    """Root cause: sync.check_guards only looks at ``previous`` = students whose last_seen_sync_id is
    the latest ok sync. Restricted students who were absent from the last export(s) (kept, as
    'absence never clears') are outside ``was_restricted``, so when they come back with their
    restriction gone nothing counts them. Dropping 2 restricted students per night (under
    min_drop_count=3, never refused) for five nights, then one export with all of them back and
    cleared, lifts 10 of 20 opt-outs in a single sync with no refusal and no --accept-drop."""
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "s0.csv", roster(100, restricted=range(20))))
    for night in range(1, 6):  # each night two more restricted students are missing: 2 < min_drop_count
        sync_roster(db, write_export(tmp_path / f"s{night}.csv",
                                     roster(100, restricted=range(20), skip=range(2 * night))))
    assert len(restricted_now(db)) == 20  # absence kept every restriction
    back = write_export(tmp_path / "back.csv", roster(100, restricted=range(10, 20)))  # 0..9 back, cleared
    with pytest.raises(SyncRefused):
        sync_roster(db, back)
    assert len(restricted_now(db)) == 20


def test_duplicate_consent_header_is_not_silently_read_from_the_blank_one(tmp_path, db_path):
    """Root cause: roster._column_index keeps the FIRST column whose normalised key matches
    (``columns.setdefault(_header_key(h), i)``), so an export with two columns that normalise alike
    ("Media Opt Out" — an empty custom field — and the real "Media_Opt_Out") reads every opt-out
    from the empty one. The sync succeeds with 0 restricted and no problem reported; the guards
    only compare with a previous sync, so a first sync (a new school, a rebuilt database) is wide
    open. A consent (or student-number) column that appears twice must be refused as ambiguous."""
    header = HEADER[:7] + ["Media Opt Out"] + HEADER[7:]
    rows = [{**student("900001", "Marcus", "Ellery", media="Y"), "Media Opt Out": ""},
            {**student("900002", "Jordan", "Whitfield"), "Media Opt Out": ""}]
    export = write_export(tmp_path / "dup.csv", rows, header=header)
    db = open_db(db_path)
    try:
        report = sync_roster(db, export)
    except SyncRefused:
        return  # safe: refused as ambiguous
    assert "900001" in restricted_now(db) or any("Media" in p for p in report.problems), report.summary()


@pytest.mark.parametrize("programs", ["Gifted/No Media", "Gifted\nNo Media", "ELL; No-Media", "NoMedia",
                                      "No Media Release", "No Media."])
def test_flag_list_near_miss_is_never_read_as_permitted(tmp_path, db_path, programs):
    """Root cause: consent.read_field for a ``contains`` field (the infinite-campus preset:
    Programs contains "No Media") splits only on ; , | and compares whole items exactly; anything
    else is ``Reading(None)`` = 'says nothing' = permitted in an opt-out district, with no
    problem. So "Gifted/No Media", a multi-line cell "Gifted<newline>No Media", "No-Media",
    "NoMedia", "No Media Release" all import the student as unrestricted, silently (this is the
    one place where an unrecognised value does NOT mean restricted). An item that contains the
    flag's words without matching exactly must be restricted and reported."""
    from consentguard.roster.mapping import load_preset
    path = tmp_path / "ic.csv"
    write_export(path, [{"Student Number": "900001", "First Name": "Marcus", "Last Name": "Ellery",
                         "Programs": programs},
                        {"Student Number": "900002", "First Name": "Jordan", "Last Name": "Whitfield",
                         "Programs": "Gifted"}],
                 header=["Student Number", "First Name", "Middle Name", "Last Name", "Grade", "School Number",
                         "Programs"])
    db = open_db(db_path)
    report = sync_roster(db, path, mapping=load_preset("infinite-campus"))
    assert "900001" in restricted_now(db) and report.problems, report.summary()


# -- (b) making the history or the audit trail lie ---------------------------------------------------

def _audit_db(tmp_path):
    from consentguard.store.audit import record_doc
    path = tmp_path / "cg.db"
    db = open_db(path)
    sync_roster(db, write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee", media="Y")]))
    for name, verdict in (("a.jpg", "pass"), ("b.jpg", "review"), ("c.jpg", "block")):
        record_doc(db, {"path": f"/photos/{name}", "sha256": "ab" * 32, "verdict": verdict, "reasons": [],
                        "student_numbers": ["1"], "roster_sync_id": 1, "faces": [], "names": []}, "cli")
    return path


def _sql(path, script):
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.commit()
    conn.close()


RETRIGGER = ("CREATE TRIGGER checks_append_only_update BEFORE UPDATE ON checks "
             "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
             "CREATE TRIGGER checks_append_only_delete BEFORE DELETE ON checks "
             "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;")


def test_truncation_with_the_anchor_file_deleted_is_detected(tmp_path):
    """Root cause: audit.verify treats a missing anchor file as a mere note ("no anchor file ...
    the next recorded check writes it") whenever the file is absent, even for a trail that has
    had one since its first row. Delete the last row (the 'block'), rewind sqlite_sequence, put
    the triggers back and delete <db>.audit-anchor: verify is ok. Worse, the next recorded check
    writes a fresh anchor over the cut trail and even the note disappears. Where the database
    once had an anchor (e.g. a flag/row count kept in the database, or the anchor's existence
    recorded at migration), its absence must be a problem."""
    from consentguard.store.audit import record_doc, verify
    path = _audit_db(tmp_path)
    _sql(path, "DROP TRIGGER checks_append_only_update; DROP TRIGGER checks_append_only_delete;"
               "DELETE FROM checks WHERE id = 3; UPDATE sqlite_sequence SET seq = 2 WHERE name = 'checks';"
               + RETRIGGER)
    os.unlink(f"{path}.audit-anchor")
    db = open_db(path)
    record_doc(db, {"path": "/photos/d.jpg", "sha256": "cd" * 32, "verdict": "pass", "reasons": [],
                    "student_numbers": [], "roster_sync_id": 1, "faces": [], "names": []}, "cli")
    result = verify(db)
    assert not result.ok, (result.problems, result.notes)


def test_no_op_triggers_under_the_right_names_are_a_problem(tmp_path):
    """Root cause: audit.verify checks only that triggers NAMED checks_append_only_update/_delete
    exist on ``checks`` (sqlite_master names), not what they do. Replacing them with same-named
    no-op triggers (``BEGIN SELECT 1; END``) leaves the trail editable and deletable through
    plain SQLite while verify reports no problem about the triggers. Compare the trigger SQL
    (sqlite_master.sql) with the expected RAISE(ABORT ...) text."""
    from consentguard.store.audit import verify
    path = _audit_db(tmp_path)
    _sql(path, "DROP TRIGGER checks_append_only_update; DROP TRIGGER checks_append_only_delete;"
               "CREATE TRIGGER checks_append_only_update BEFORE UPDATE ON checks BEGIN SELECT 1; END;"
               "CREATE TRIGGER checks_append_only_delete BEFORE DELETE ON checks BEGIN SELECT 1; END;")
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM checks WHERE id = 99")  # the 'append-only' table accepts a DELETE now
    conn.close()
    result = verify(open_db(path))
    assert not result.ok, "verify says nothing although the append-only triggers do nothing"


def test_lock_file_deleted_while_held_does_not_let_a_second_writer_in(tmp_path, db_path):
    """Root cause: db.writer_lock flocks ``<db>.lock`` by opening it with O_CREAT each time.
    If the file is removed while a sync holds it (a tmp/cleanup job, an admin tidying up, a
    backup tool that restores the folder), the next writer creates a new inode and locks that:
    both hold "the" lock, so a rollback (or second sync) runs concurrently with the sync, and
    the second one's mark_interrupted() even stamps the live run 'interrupted ... nothing of it
    was applied'. Fix: after flock, fstat the fd and stat the path; retry if the inode differs
    (or lock the database file itself / a lock row inside SQLite)."""
    from consentguard.store.db import writer_lock
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", [student("1", "Ann", "Lee", media="Y")]))
    with writer_lock(db, "sync"):
        os.unlink(f"{db_path}.lock")
        with pytest.raises(SyncRefused):
            with writer_lock(open_db(db_path), "rollback", wait=0.5):
                pass


def test_override_name_cannot_carry_line_breaks_or_bidi_controls(tmp_path):
    """Root cause: audit.record_override checks the releasing person's name only for length
    (<= 80) and at least one visible character (_visible skips categories C and Z), so control
    and format characters pass: "Dana\\n\\u202eeciffO ehT\\u202c\\r\\nPrincipal" is stored as who
    released the photo. Newlines split the name across lines in `audit` listings and the
    'already released by ...' message, and U+202E (right-to-left override) makes the audit page
    and CSV show a different name than the one stored (the record lies to its reader). Refuse
    names (and reasons) with Cc/Cf characters other than ordinary spaces."""
    from consentguard.store.audit import OverrideError, record_doc, record_override
    path = _audit_db(tmp_path)
    db = open_db(path)
    cid = record_doc(db, {"path": "/p/r.jpg", "sha256": "ef" * 32, "verdict": "review", "reasons": [],
                          "student_numbers": [], "roster_sync_id": 1, "faces": [], "names": []}, "web")
    with pytest.raises(OverrideError):
        record_override(db, cid, "checked by hand, all permitted", "Dana\n\u202eeciffO ehT\u202c\r\nPrincipal")


TOKEN = "correct horse battery staple"


@pytest.fixture
def web_db(tmp_path):
    path = tmp_path / "web.db"
    sync_roster(open_db(path), write_export(tmp_path / "w.csv", [student("1", "Ann", "Lee", media="Y")]))
    return path


def _app(web_db, **kw):
    from consentguard.web import create_app
    return create_app(web_db, pool=object(), **kw)  # no photo is checked here: no worker needed


def test_wrong_tokens_from_one_address_do_not_lock_out_signed_in_staff(web_db):
    """Root cause: web.create_app.guard calls locked_out() before anything else, keyed on
    request.remote_addr only. Anyone who can reach the page (or any page script, or one
    colleague) sends 10 wrong Bearer tokens and every user at that address is refused with 429
    for 10 minutes, including staff already signed in with a valid signed cookie; renewing
    every 10 minutes keeps the checker down indefinitely. Behind a reverse proxy (the HTTPS
    setup the README describes) remote_addr is the proxy's, so one person locks out the whole
    school. A valid sign-in cookie should be honoured; the lockout should only gate guesses."""
    app = _app(web_db, token=TOKEN)
    staff, attacker = app.test_client(), app.test_client()
    assert staff.post("/login", data={"token": TOKEN}).status_code == 303
    assert staff.get("/").status_code == 200
    for i in range(10):
        attacker.get("/api/x", headers={"Authorization": f"Bearer wrong guess {i:04d}"})
    assert staff.get("/").status_code == 200, "a signed-in user is locked out by someone else's wrong guesses"


def test_lockout_cannot_be_dodged_by_rotating_ipv6_addresses(web_db):
    """Root cause: the lockout counts wrong tokens per exact request.remote_addr string
    (``wrong`` dict in create_app). A client on IPv6 holds a /64 (2**64 addresses) and changes
    its source address per request, so it is never locked out (and every address adds an entry
    to ``wrong`` that is never removed: unbounded memory). Count per /64 for IPv6 (and normalise
    IPv4-mapped forms like ::ffff:127.0.0.1), plus a global ceiling on wrong tokens."""
    app = _app(web_db, token=TOKEN)
    c = app.test_client()
    codes = [c.post("/login", data={"token": f"guess {i}"},
                    environ_overrides={"REMOTE_ADDR": f"2001:db8:1:2::{i + 1:x}"}).status_code
             for i in range(30)]
    assert 429 in codes, "30 wrong tokens from one /64 and never locked out"


def test_session_cookie_is_secure_over_https(web_db):
    """Root cause: the index route sets the CSRF session cookie (cg_session) with httponly and
    samesite but never ``secure=request.is_secure`` (unlike the sign-in cookies), and with no
    max_age. Over HTTPS it is still sent on any plain-http request to the same host name."""
    c = _app(web_db).test_client()
    r = c.get("/", base_url="https://localhost")
    cookie = r.headers["Set-Cookie"]
    assert "cg_session=" in cookie and "Secure" in cookie, cookie
