"""Issue #16: staff accounts and roles on the page.

Every route of the app has a role rule (a new route without one fails here) and each is enforced for
every role; passwords are stored as argon2 hashes only (rehashed when the parameters change); wrong
passwords lock the account (surviving a restart of the app) and the address; a disabled account or a
changed role ends its sessions; overrides and review decisions record the account, not a typed name.
Real SQLite file, a real worker process, the app in-process; the CLI in-process."""

import io
import multiprocessing as mp
import re
import shutil
from concurrent.futures import ProcessPoolExecutor

import pytest
from click.testing import CliRunner

from consentguard import Policy, open_db
from consentguard.cli import cli
from consentguard.runners.workers import init_worker
from consentguard.store import users
from consentguard.web import create_app
from consentguard.web.security import ROLES, has_rule, role_needed

pytestmark = pytest.mark.faces

PASSWORDS = {"Sam Staff": "staff password 1", "Alex Approver": "approver password 2", "Ann Admin": "admin password 33"}


@pytest.fixture(scope="module")
def school(face_roster, tmp_path_factory):
    db = tmp_path_factory.mktemp("accounts") / "cg.db"
    shutil.copy(face_roster, db)
    for (name, password), role in zip(PASSWORDS.items(), ROLES):
        users.add(open_db(db), name, role, password, "it-admin")
    executor = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=init_worker,
                                   initargs=(str(db), Policy()))
    yield db, executor
    executor.shutdown()


def client(school, name=None):
    db, executor = school
    c = create_app(db, pool=executor).test_client()
    if name is not None:
        answer = c.post("/login", data={"name": name, "password": PASSWORDS[name], "next": "/"})
        assert answer.status_code == 303, answer.text
    c.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', c.get("/").text).group(1) if name else ""
    return c


def sample(rule) -> str:
    """A concrete path for a URL rule (its variables filled with sample values)."""
    return re.sub(r"<(?:int:)?([^>]+)>", lambda m: "1" if "int:" in m.group(0) else "x" * 8, rule.rule)


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, sample(rule), rule.endpoint


def test_every_route_has_a_role_rule(school):
    app = create_app(school[0], pool=school[1])
    missing = [(m, p) for m, p, endpoint in routes(app) if endpoint != "static" and not has_rule(m, p)]
    assert missing == []  # add the route to ROLE_RULES in web/security.py
    assert role_needed("GET", "/a/new/route") == "admin"  # a route nobody named: admins only


@pytest.mark.parametrize("who", [None, *PASSWORDS])
def test_each_route_answers_only_the_roles_allowed(school, who):
    c = client(school, who)
    role = None if who is None else ROLES[list(PASSWORDS).index(who)]
    app = create_app(school[0], pool=school[1])
    for method, path, endpoint in routes(app):
        if endpoint == "static" or path in ("/login", "/logout"):
            continue
        needed = role_needed(method, path)
        answer = c.open(path, method=method, headers={"X-CSRF-Token": c.csrf}, data={})
        if role is None:
            assert answer.status_code == 401, (method, path, answer.status_code)
        elif ROLES.index(role) < ROLES.index(needed):
            assert answer.status_code == 403, (method, path, role, answer.status_code)
            assert f"this needs the {needed} role: signed in as {who} ({role})" in answer.get_json()["error"]
        else:
            assert answer.status_code not in (401, 403), (method, path, role, answer.status_code, answer.text[:200])


def test_passwords_are_stored_as_argon2_hashes_and_rehashed(school, tmp_path):
    db = open_db(school[0])
    stored = [r[0] for r in db.execute("SELECT password_hash FROM users")]
    assert all(h.startswith("$argon2id$") for h in stored) and not any(p in h for h in stored for p in PASSWORDS.values())
    assert "password" not in CliRunner().invoke(cli, ["users", "list", "--json", "--db", str(school[0])]).output
    from argon2 import PasswordHasher
    weak = tmp_path / "weak.db"
    shutil.copy(school[0], weak)
    wdb = open_db(weak)
    wdb.execute("UPDATE users SET password_hash = ? WHERE name = 'Sam Staff'",
                [PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORDS["Sam Staff"])])
    assert users.sign_in(wdb, "sam staff", PASSWORDS["Sam Staff"]) is not None  # names are not case-sensitive
    assert "m=65536" in wdb.execute("SELECT password_hash FROM users WHERE name = 'Sam Staff'").fetchone()[0]


def test_wrong_passwords_lock_the_account_across_restarts_and_the_address(school, tmp_path):
    db = tmp_path / "cg.db"
    shutil.copy(school[0], db)
    app = create_app(db, pool=school[1])
    c = app.test_client()
    for _ in range(users.LOCK_AFTER):
        wrong = c.post("/login", data={"name": "Sam Staff", "password": "not the password"})
        assert wrong.status_code == 401 and "wrong name or password" in wrong.text
    again = create_app(db, pool=school[1]).test_client()  # the server restarted: the account is still locked
    locked = again.post("/login", data={"name": "Sam Staff", "password": PASSWORDS["Sam Staff"]})
    assert locked.status_code == 401 and users.locked(open_db(db), "Sam Staff")
    unknown = again.post("/login", data={"name": "Nobody", "password": "whatever it is"})
    assert unknown.text.count("wrong name or password") == 1  # the same answer: names cannot be probed
    guesser = create_app(db, pool=school[1]).test_client()
    for n in range(10):
        guesser.post("/login", data={"name": f"guess {n}", "password": "guess"})
    assert guesser.post("/login", data={"name": "Ann Admin", "password": PASSWORDS["Ann Admin"]}).status_code == 429
    out = CliRunner().invoke(cli, ["users", "enable", "Sam Staff", "--db", str(db)])  # an admin clears the lockout
    assert out.exit_code == 0 and not users.locked(open_db(db), "Sam Staff")


def test_a_disabled_account_or_a_changed_role_ends_its_sessions(school, tmp_path):
    db = tmp_path / "cg.db"
    shutil.copy(school[0], db)
    c = create_app(db, pool=school[1]).test_client()
    c.post("/login", data={"name": "Alex Approver", "password": PASSWORDS["Alex Approver"]})
    assert c.get("/").status_code == 200 and "Signed in as Alex Approver (approver)" in c.get("/").text
    users.set_role(open_db(db), "Alex Approver", "staff", "it-admin")
    assert c.get("/").status_code == 401  # the role changed: signed out
    c.post("/login", data={"name": "Alex Approver", "password": PASSWORDS["Alex Approver"]})
    assert "(staff)" in c.get("/").text
    users.set_disabled(open_db(db), "Alex Approver", True, "it-admin")
    assert c.get("/").status_code == 401
    refused = c.post("/login", data={"name": "Alex Approver", "password": PASSWORDS["Alex Approver"]})
    assert refused.status_code == 401
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client(school, "Sam Staff").get("/").text)
    assert csrf  # the page has a sign-out form


def test_an_override_records_the_signed_in_account_never_a_typed_name(school, faces):
    c = client(school, "Alex Approver")
    import tempfile
    from pathlib import Path

    from helpers.photos import distant
    photo = distant(faces.clear_other, 40, Path(tempfile.mkdtemp()), "far.jpg")
    body = c.post("/api/check", data={"photo": (io.BytesIO(photo.read_bytes()), "far.jpg")},
                  headers={"X-CSRF-Token": c.csrf}, content_type="multipart/form-data").get_json()
    assert body["result"]["verdict"] == "review", body["result"]["reasons"]
    answer = c.post("/api/override", json={"check_id": body["check_id"], "user": "Somebody Else",
                                           "reason": "a parent volunteer at the back"},
                    headers={"X-CSRF-Token": c.csrf})
    assert answer.status_code == 200, answer.get_json()
    row = open_db(school[0]).execute("SELECT os_user FROM checks WHERE id = ?",
                                     [answer.get_json()["override_id"]]).fetchone()
    assert row[0] == "Alex Approver"
    staff = client(school, "Sam Staff")
    assert staff.post("/api/override", json={"check_id": body["check_id"], "user": "Sam", "reason": "fine really"},
                      headers={"X-CSRF-Token": staff.csrf}).status_code == 403


def test_users_on_the_command_line(tmp_path, face_roster):
    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    run = CliRunner()
    short = run.invoke(cli, ["users", "add", "Dana", "--role", "staff", "--password-stdin", "--db", str(db)],
                       input="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    ok = run.invoke(cli, ["users", "add", "Dana", "--role", "staff", "--password-stdin", "--db", str(db)],
                    input="a long enough password\n")
    assert ok.exit_code == 0 and "added Dana (staff)" in ok.output
    assert run.invoke(cli, ["users", "set-role", "dana", "admin", "--db", str(db)]).exit_code == 0
    assert run.invoke(cli, ["users", "list", "--db", str(db)]).output == "Dana\tadmin\tactive\n"
    again = run.invoke(cli, ["users", "add", "DANA", "--role", "staff", "--password-stdin", "--db", str(db)],
                       input="a long enough password\n")
    assert again.exit_code == 1 and "exists already" in again.output
    events = [r[0] for r in open_db(db).execute("SELECT note FROM checks WHERE event = 'account' ORDER BY id")]
    assert events == ["account Dana added as staff", "account Dana: role staff -> admin"]


def test_without_accounts_a_shared_token_cannot_release_reviews_from_another_machine(school, tmp_path):
    db = tmp_path / "cg.db"
    shutil.copy(school[0], db)
    for name in PASSWORDS:
        users.set_disabled(open_db(db), name, True, "it-admin")
    app = create_app(db, pool=school[1], token="a kiosk token for the office")
    c = app.test_client()
    c.post("/login", data={"token": "a kiosk token for the office"})
    csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', c.get("/").text).group(1)
    remote = c.post("/api/override", json={"check_id": 1, "user": "x", "reason": "long enough reason"},
                    headers={"X-CSRF-Token": csrf}, environ_overrides={"REMOTE_ADDR": "192.168.1.50"})
    assert remote.status_code == 403 and "needs a personal account" in remote.get_json()["error"]
    local = c.post("/api/override", json={"check_id": 1, "user": "x", "reason": "long enough reason"},
                   headers={"X-CSRF-Token": csrf})
    assert local.status_code != 403  # on this machine itself, as before


def test_checks_on_the_page_are_recorded_under_the_account_and_reopened_by_it_only(school, faces):
    sam, alex = client(school, "Sam Staff"), client(school, "Alex Approver")
    body = sam.post("/api/check", data={"photo": (io.BytesIO(faces.stranger.read_bytes()), "sam-only.jpg")},
                    headers={"X-CSRF-Token": sam.csrf}, content_type="multipart/form-data").get_json()
    row = open_db(school[0]).execute("SELECT os_user FROM checks WHERE id = ?", [body["check_id"]]).fetchone()
    assert row[0] == "Sam Staff"
    mine = [c["file_name"] for c in sam.get("/api/today").get_json()["checks"]]
    assert "sam-only.jpg" in mine
    assert "sam-only.jpg" not in [c["file_name"] for c in alex.get("/api/today").get_json()["checks"]]
