"""Issue #15 on the page: "Mark as posted" after a photo passed (its rules, `serve --keep-posted`), and
the admin's takedown list with "Taken down", which `recheck` then respects. Real photos, a real
SQLite file, a real worker process, the app in-process (the browser flow: test_browser_posted.py)."""

import io
import json
import multiprocessing as mp
import re
import stat
from concurrent.futures import ProcessPoolExecutor

import pytest
from click.testing import CliRunner

from consentguard import Policy, open_db
from consentguard.cli import cli
from consentguard.runners.recheck import recheck
from consentguard.runners.workers import init_worker
from consentguard.web import create_app

from conftest import R, marcus_restricted_later

pytestmark = pytest.mark.faces

ADMIN = "the admin's own long token"


def page_client(app):
    client = app.test_client()
    client.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', client.get("/").text).group(1)
    return client


def check(client, path, name=None, channel="", caption=""):
    body = client.post("/api/check", data={"photo": (io.BytesIO(path.read_bytes()), name or path.name),
                                          "channel": channel, "caption": caption},
                       headers={"X-CSRF-Token": client.csrf}, content_type="multipart/form-data").get_json()
    return body


def mark(client, check_id, photo=None, channel="website", user="Dana Office", **extra):
    data = {"check_id": str(check_id), "channel": channel, "user": user, "on": "2026-11-02", **extra}
    if photo is not None:
        data["photo"] = (io.BytesIO(photo.read_bytes()), photo.name)
    return client.post("/api/posted", data=data, headers={"X-CSRF-Token": client.csrf},
                       content_type="multipart/form-data")


# -- the rules of marking a post, on the shared face roster (R restricted, C clear) ----------------

@pytest.fixture(scope="module")
def client(db_file, pool, tmp_path_factory):
    folder = tmp_path_factory.mktemp("kept") / "posted"
    c = page_client(create_app(db_file, pool=pool, keep_posted=folder))
    c.folder = folder
    return c


def test_a_passed_photo_is_marked_as_posted_and_kept_privately_for_re_checks(client, faces, db_file):
    body = check(client, faces.clear_other, "choir.jpg")
    assert body["result"]["verdict"] == "pass", body["result"]["reasons"]
    answer = mark(client, body["check_id"], faces.clear_other, where="https://school.example/choir")
    assert answer.status_code == 200 and answer.get_json()["kept"] is True, answer.get_json()
    [kept] = client.folder.iterdir()
    assert kept.read_bytes() == faces.clear_other.read_bytes() and kept.name.endswith("_" + faces.clear_other.name)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(client.folder.stat().st_mode) == 0o700
    row = open_db(db_file).execute("SELECT os_user, interface, ref_id, result FROM checks WHERE id = ?",
                                   [answer.get_json()["posted_id"]]).fetchone()
    assert row[:3] == ("Dana Office", "web", body["check_id"])
    assert json.loads(row[3]) == {"channel": "website", "on": "2026-11-02", "where": "https://school.example/choir",
                                  "path": str(kept)}


@pytest.mark.parametrize("change, error", [
    ({"user": ""}, "needs the name of the person who posted it"),
    ({"channel": "billboard"}, "unknown channel 'billboard'"),
    ({"on": "yesterday"}, "'yesterday' is not a date"),
    ({"check_id": "x"}, "check_id must be a number"),
    ({"check_id": "999999"}, "check #999999 does not exist"),
])
def test_a_post_that_cannot_be_marked_says_why_in_one_line(client, faces, change, error):
    body = check(client, faces.clear_other)
    fields = {"check_id": body["check_id"], **change}
    answer = mark(client, fields.pop("check_id"), **fields)
    assert answer.status_code == 400 and error in answer.get_json()["error"], answer.get_json()


def test_a_blocked_photo_or_one_checked_for_another_channel_is_never_marked(client, faces, tmp_path):
    from PIL import Image

    blocked = check(client, faces.restricted_other)
    assert blocked["result"]["verdict"] == "block"
    answer = mark(client, blocked["check_id"])
    assert answer.status_code == 400 and "is 'block', not released: not marked as posted" in answer.get_json()["error"]
    only_yearbook = tmp_path / "stranger-yb.jpg"  # content never checked for every channel by another test
    Image.open(faces.stranger).convert("RGB").save(only_yearbook, quality=91)
    yearbook = check(client, only_yearbook, channel="yearbook")
    answer = mark(client, yearbook["check_id"], channel="news")
    assert answer.status_code == 400 and "checked for yearbook, not news" in answer.get_json()["error"]


def test_another_photo_sent_with_a_post_is_refused_and_nothing_is_kept(client, faces):
    body = check(client, faces.stranger)
    before = set(client.folder.iterdir()) if client.folder.exists() else set()
    answer = mark(client, body["check_id"], faces.clear_other)
    assert answer.status_code == 400 and "not the photo of check #" in answer.get_json()["error"]
    assert (set(client.folder.iterdir()) if client.folder.exists() else set()) == before


def test_marking_needs_the_page_token_and_without_keep_posted_the_page_says_captions_only(db_file, pool, faces):
    plain = page_client(create_app(db_file, pool=pool))
    assert "re-checked by their caption only" in plain.get("/").text
    body = check(plain, faces.stranger)
    assert plain.post("/api/posted", data={"check_id": body["check_id"], "channel": "website",
                                           "user": "Dana"}).status_code == 403  # no CSRF token
    answer = mark(plain, body["check_id"], faces.stranger)
    assert answer.status_code == 200 and answer.get_json()["kept"] is False


def test_the_takedown_list_and_marking_a_takedown_need_the_admin_token(db_file, pool):
    app = create_app(db_file, pool=pool, admin_token=ADMIN)
    c = page_client(app)
    assert c.get("/takedown").status_code == 401 and c.get("/api/takedown").status_code == 401
    assert c.post("/api/takedown/1", json={"note": "gone", "user": "x"},
                  headers={"X-CSRF-Token": c.csrf}).status_code == 401
    assert c.post("/login", data={"token": ADMIN, "next": "/takedown"}).headers["Location"] == "/takedown"
    assert c.get("/takedown").status_code == 200 and c.get("/api/takedown").get_json()["findings"] == []
    refused = c.post("/api/takedown/1", json={"note": "removed it", "user": "Dana"}, headers={"X-CSRF-Token": c.csrf})
    assert refused.status_code == 400 and "has no re-check finding" in refused.get_json()["error"]


# -- the whole story: posted on the page, restricted at the next sync, taken down ------------------

@pytest.fixture
def school(faces, tmp_path):
    db, restrict_marcus = marcus_restricted_later(faces, tmp_path)
    executor = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=init_worker,
                                   initargs=(str(db), Policy()))
    yield db, executor, restrict_marcus, tmp_path / "posted"
    executor.shutdown()


def test_posted_on_the_page_restricted_since_taken_down_by_the_admin(school, faces):
    db, executor, restrict_marcus, folder = school
    c = page_client(create_app(db, pool=executor, admin_token=ADMIN, keep_posted=folder))
    body = check(c, faces.restricted_other, "fair.jpg", caption="Our science fair")
    assert body["result"]["verdict"] == "pass", body["result"]["reasons"]  # Marcus is permitted today
    assert mark(c, body["check_id"], faces.restricted_other).status_code == 200
    restrict_marcus()
    report = recheck(open_db(db), Policy())
    [finding] = report.findings
    assert finding.status == "affected" and finding.path.startswith(str(folder))  # re-read from the kept copy

    c.post("/login", data={"token": ADMIN, "next": "/takedown"})
    [listed] = c.get("/api/takedown").get_json()["findings"]
    assert listed["check_id"] == body["check_id"] and listed["students"] == [f"Marcus Ellery #{R}"]
    assert listed["posted"] == [{"channel": "website", "on": "2026-11-02", "where": None, "by": "Dana Office"}]
    assert listed["taken_down"] is None and any("Marcus Ellery" in r for r in listed["reasons"])
    short = c.post(f"/api/takedown/{body['check_id']}", json={"note": "gone", "user": "Ann Admin"},
                   headers={"X-CSRF-Token": c.csrf})
    assert short.status_code == 400 and "what was taken down" in short.get_json()["error"]
    done = c.post(f"/api/takedown/{body['check_id']}", json={"note": "removed from the news page", "user": "Ann Admin"},
                  headers={"X-CSRF-Token": c.csrf})
    assert done.status_code == 200
    answer = c.get("/api/takedown").get_json()
    assert answer["open"] == 0 and answer["findings"][0]["taken_down"]["by"] == "Ann Admin"

    again = recheck(open_db(db), Policy())
    assert again.findings[0].taken_down["note"] == "removed from the news page" and again.takedowns == []
    assert "1 already marked as taken down" in again.summary()
    out = CliRunner().invoke(cli, ["recheck", "--db", str(db)])
    assert out.exit_code == 0 and "TAKEN DOWN" in out.output, out.output

    # posted again after the takedown (someone re-shared it): to take down again
    from consentguard.runners.recheck import mark_posted_check

    mark_posted_check(open_db(db), body["check_id"], "social", by="Sam Coach")
    assert recheck(open_db(db), Policy()).takedowns != [] and c.get("/api/takedown").get_json()["open"] == 1
