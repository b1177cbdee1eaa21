"""The web page's server: every endpoint and security rule in-process (real worker process,
real photos, real database), the CLI and the page agreeing, and the real server started."""

import base64
import io
import multiprocessing as mp
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ProcessPoolExecutor

import pytest
from PIL import Image

from consentguard import Checker, Policy, open_db
from consentguard.inspect.metadata import read_metadata
from consentguard.runners.workers import init_worker as _init_worker
from consentguard.web import ServeError, check_bind, create_app

from conftest import R
from helpers.photos import distant
from helpers.web import start_server

pytestmark = pytest.mark.faces


@pytest.fixture
def client(db_file, pool):
    app = create_app(db_file, pool=pool)
    c = app.test_client()
    page = c.get("/")
    c.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text).group(1)
    return c


def post_photo(client, data, name="photo.jpg", caption="", channel="", csrf=True, **headers):
    if csrf:
        headers["X-CSRF-Token"] = client.csrf
    return client.post("/api/check", data={"photo": (io.BytesIO(data), name), "caption": caption, "channel": channel},
                       headers=headers, content_type="multipart/form-data")


def test_page_is_self_contained_and_safe(client):
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert not re.search(r"<script>|https?://", page.text)  # no inline script, nothing from elsewhere
    assert "cg_session" in page.headers["Set-Cookie"] and "HttpOnly" in page.headers["Set-Cookie"]
    assert client.get("/static/app.js").status_code == 200


def test_csrf_and_origin_are_required(client, faces):
    data = faces.group.read_bytes()
    assert post_photo(client, data, csrf=False).status_code == 403
    assert post_photo(client, data, Origin="http://evil.example").status_code == 403
    assert client.post("/api/override", json={"check_id": 1, "reason": "x" * 20}).status_code == 403


def test_blocked_photo_gets_reasons_preview_and_a_safe_copy(client, faces, db_file):
    r = post_photo(client, faces.group.read_bytes(), "group.jpg", caption="Well done Priya Natarajan!")
    assert r.status_code == 200, r.text
    body = r.get_json()
    doc = body["result"]
    assert doc["verdict"] == "block" and R in doc["student_numbers"]
    assert doc["scrubbed_caption"] == "Well done a student!"
    assert body["preview"].startswith("data:image/jpeg;base64,")
    safe = Image.open(io.BytesIO(base64.b64decode(body["safe_copy"].split(",", 1)[1])))
    assert read_metadata(safe) == [] and len(safe.getexif()) == 0
    row = open_db(db_file).execute("SELECT interface, verdict, file_name FROM checks WHERE id = ?",
                                   [body["check_id"]]).fetchone()
    assert row == ("web", "block", "group.jpg")


def test_same_verdicts_as_the_cli(client, faces, db_file):
    checker = Checker(open_db(db_file), record=False)
    for path in (faces.group, faces.stranger, faces.restricted_other):
        cli = checker.check_path(path).to_json()
        web = post_photo(client, path.read_bytes(), path.name).get_json()["result"]
        assert (web["verdict"], web["reasons"], web["faces"]) == (cli["verdict"], cli["reasons"], cli["faces"])


def test_bad_uploads(client, faces):
    r = post_photo(client, b"%PDF-1.4 not a photo", "report.jpg")
    assert r.status_code == 200 and r.get_json()["result"]["verdict"] == "error"
    assert "not an image file" in r.get_json()["result"]["reasons"][0]
    two = client.post("/api/check", data={"photo": [(io.BytesIO(b"a"), "a.jpg"), (io.BytesIO(b"b"), "b.jpg")]},
                      headers={"X-CSRF-Token": client.csrf}, content_type="multipart/form-data")
    assert two.status_code == 400 and "exactly one photo" in two.get_json()["error"]
    big = post_photo(client, b"\xff\xd8" + b"\0" * (61 * 1024 * 1024), "big.jpg")
    assert big.status_code == 413 and "at most 60 MB" in big.get_json()["error"]
    assert post_photo(client, faces.stranger.read_bytes(), channel="tiktok").status_code == 400


def test_override_a_review_with_a_reason(client, faces, tmp_path):
    photo = distant(faces.clear_other, 40, tmp_path, "far.jpg")
    body = post_photo(client, photo.read_bytes(), "far.jpg").get_json()
    assert body["result"]["verdict"] == "review"
    headers = {"X-CSRF-Token": client.csrf}
    short = client.post("/api/override", json={"check_id": body["check_id"], "reason": "fine", "user": "Dana"},
                        headers=headers)
    assert short.status_code == 400 and "written reason" in short.get_json()["error"]
    nameless = client.post("/api/override", json={"check_id": body["check_id"],
                                                  "reason": "The small face is a parent volunteer"}, headers=headers)
    assert nameless.status_code == 400 and "name of the person" in nameless.get_json()["error"]
    ok = client.post("/api/override", json={"check_id": body["check_id"], "user": "Dana Office",
                                            "reason": "The small face is a parent volunteer"}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["override_id"] > body["check_id"]
    blocked = post_photo(client, faces.group.read_bytes(), "group.jpg").get_json()
    refused = client.post("/api/override", json={"check_id": blocked["check_id"], "reason": "I am sure it is fine",
                                                 "user": "Dana"}, headers=headers)
    assert refused.status_code == 400 and "only a review can be overridden" in refused.get_json()["error"]


def test_audit_page_escapes_and_exports(client, faces):
    post_photo(client, faces.stranger.read_bytes(), "<img src=x onerror=alert(1)>.jpg")
    page = client.get("/audit")
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;.jpg" in page.text
    blocks = client.get("/audit?verdict=block")
    assert "stranger" not in blocks.text
    csv_text = client.get("/audit.csv?verdict=pass").text
    assert csv_text.startswith("id,checked_at,event") and "<img src=x onerror=alert(1)>.jpg" in csv_text
    assert client.get("/audit?since=yesterday").status_code == 400


def test_token_protects_everything(db_file, pool):
    app = create_app(db_file, token="correct horse battery", pool=pool)
    c = app.test_client()
    assert c.get("/").status_code == 401 and "Access token" in c.get("/").text
    assert c.get("/audit.csv").status_code == 401
    assert c.post("/login", data={"token": "wrong"}).status_code == 401
    assert c.post("/login", data={"token": "correct horse battery"}).status_code == 303
    assert c.get("/").status_code == 200 and c.get("/audit").status_code == 200


@pytest.mark.parametrize("host,token,message", [
    ("0.0.0.0", None, "refusing to listen on 0.0.0.0 without staff accounts or an access token"),
    ("192.168.1.20", None, "refusing to listen on 192.168.1.20 without staff accounts or an access token"),
    ("0.0.0.0", "short", "the access token is too short"),
])
def test_bind_rules(host, token, message):
    with pytest.raises(ServeError, match=message):
        check_bind(host, token)
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", None, accounts=True)  # staff accounts: allowed beyond loopback
    check_bind("0.0.0.0", "long enough token")


@pytest.mark.slow
def test_serve_refuses_to_start_on_the_network_without_a_token(db_file):
    proc = subprocess.run([sys.executable, "-m", "consentguard", "serve", "--host", "0.0.0.0", "--db", str(db_file)],
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: refusing to listen on 0.0.0.0 without staff accounts or an access token")


def children(pid: int) -> set[int]:
    found = set()
    for stat in __import__("pathlib").Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


@pytest.mark.slow
def test_real_server(db_file, faces):
    proc, url = start_server(db_file)
    try:
        page = urllib.request.urlopen(url, timeout=30)
        assert page.status == 200 and 'name="csrf-token"' in page.read().decode()
        assert urllib.request.urlopen(url + "audit", timeout=30).status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url + "api/check", data=b"", method="POST"), timeout=30)
        assert refused.value.code == 403
        workers = {pid for pid in children(proc.pid)
                   if b"spawn_main" in __import__("pathlib").Path(f"/proc/{pid}/cmdline").read_bytes()}
        assert len(workers) == 1  # face work happens in a worker process (--workers 1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    deadline = time.time() + 10  # the workers end with the server
    while workers and time.time() < deadline:
        workers = {pid for pid in workers if __import__("os").path.exists(f"/proc/{pid}")}
        time.sleep(0.2)
    assert not workers


def test_admin_token_guards_the_audit_page(db_file, pool):
    app = create_app(db_file, admin_token="audit only for the admin", pool=pool)
    c = app.test_client()
    assert c.get("/").status_code == 200
    assert c.get("/audit").status_code == 401 and c.get("/audit.csv").status_code == 401
    r = c.post("/login", data={"token": "audit only for the admin", "next": "/audit"})
    assert r.status_code == 303 and r.headers["Location"] == "/audit"
    assert c.get("/audit").status_code == 200


def test_blocked_photos_kept_only_when_asked(db_file, pool, faces, tmp_path):
    keep = tmp_path / "kept"
    app = create_app(db_file, pool=pool, keep_blocked=keep)
    c = app.test_client()
    c.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', c.get("/").text).group(1)
    assert post_photo(c, faces.group.read_bytes(), "group.jpg").get_json()["result"]["verdict"] == "block"
    assert post_photo(c, faces.stranger.read_bytes(), "stranger.jpg").get_json()["result"]["verdict"] == "pass"
    (kept,) = keep.iterdir()
    assert kept.name.endswith("_group.jpg") and kept.read_bytes() == faces.group.read_bytes()
    assert kept.stat().st_mode & 0o777 == 0o600 and keep.stat().st_mode & 0o777 == 0o700


def test_school_choice(client, faces):
    assert '<option value="1201">1201</option>' in client.get("/").text
    unknown = client.post("/api/check", data={"photo": (io.BytesIO(faces.stranger.read_bytes()), "s.jpg"),
                                              "school": "9999"},
                          headers={"X-CSRF-Token": client.csrf}, content_type="multipart/form-data")
    assert unknown.status_code == 400 and "school '9999'" in unknown.get_json()["error"]


def test_a_long_running_server_follows_the_nightly_sync(face_roster, faces, tmp_path):
    """A student restricted by tonight's sync is caught by a server started yesterday."""
    from consentguard import sync_roster

    from conftest import C, N, student, write_export

    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    executor = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                   initargs=(str(db), Policy()))
    try:
        c = create_app(db, pool=executor).test_client()
        c.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', c.get("/").text).group(1)
        photo = faces.clear_other.read_bytes()
        assert post_photo(c, photo, "c.jpg").get_json()["result"]["verdict"] == "pass"
        portraits = tmp_path / "portraits"
        portraits.mkdir()
        shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
        shutil.copy(faces.clear_portrait, portraits / f"{C}.jpg")
        export = write_export(tmp_path / "tonight.csv", [
            student(R, "Marcus", "Ellery", photo="Y"), student(C, "Jordan", "Whitfield", photo="Y"),
            student(N, "Priya", "Natarajan", name="Yes"), student("900004", "Amelia", "Hartley")])
        assert C in sync_roster(open_db(db), export, portraits).newly_restricted
        after = post_photo(c, photo, "c.jpg").get_json()["result"]
        assert after["verdict"] == "block" and C in after["student_numbers"]
    finally:
        executor.shutdown()


def test_a_dead_worker_is_replaced(db_file, faces):
    """A worker killed mid-way (out of memory, say): that photo gets a clear error, the next is checked."""
    import os
    import signal

    app = create_app(db_file, workers=1)
    try:
        c = app.test_client()
        c.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', c.get("/").text).group(1)
        pool = app.extensions["consentguard_pool"]
        (worker,) = pool._processes  # the one worker process
        os.kill(worker, signal.SIGKILL)
        time.sleep(0.5)
        dead = post_photo(c, faces.group.read_bytes(), "group.jpg")
        assert dead.status_code == 503 and "restarted: check the photo again" in dead.get_json()["error"]
        again = post_photo(c, faces.group.read_bytes(), "group.jpg")
        assert again.status_code == 200 and again.get_json()["result"]["verdict"] == "block"
    finally:
        app.extensions["consentguard_pool"].shutdown()


def test_override_check_id_out_of_range_is_a_400(client):
    headers = {"X-CSRF-Token": client.csrf}
    for check_id in (2 ** 70, -5, 0, "1e999"):
        r = client.post("/api/override", json={"check_id": check_id, "user": "Dana",
                                               "reason": "The small face is a parent volunteer"}, headers=headers)
        assert r.status_code == 400, (check_id, r.status_code)


def test_keep_blocked_folder_made_private_even_when_it_exists(db_file, pool, faces, tmp_path):
    keep = tmp_path / "kept"
    keep.mkdir(mode=0o755)
    keep.chmod(0o755)
    app = create_app(db_file, pool=pool, keep_blocked=keep)
    c = app.test_client()
    c.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', c.get("/").text).group(1)
    assert post_photo(c, faces.group.read_bytes(), "group.jpg").get_json()["result"]["verdict"] == "block"
    assert keep.stat().st_mode & 0o777 == 0o700


def test_other_host_names_are_refused(client, db_file, pool):
    """DNS rebinding: a page at an attacker's name resolving to 127.0.0.1 must not reach the audit trail."""
    assert client.get("/audit", headers={"Host": "rebind.attacker.example:8765"}).status_code == 400
    assert client.get("/", headers={"Host": "localhost:8765"}).status_code == 200
    assert client.get("/", headers={"Host": "127.0.0.1:8765"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:8765"}).status_code == 200
    named = create_app(db_file, pool=pool, hosts=("checker.school.example",)).test_client()
    assert named.get("/", headers={"Host": "checker.school.example"}).status_code == 200
    assert named.get("/", headers={"Host": "evil.example"}).status_code == 400


def test_override_inputs_are_bounded_and_released_once(client, faces, tmp_path):
    photo = distant(faces.clear_other, 40, tmp_path, "far.jpg")
    body = post_photo(client, photo.read_bytes(), "far.jpg").get_json()
    assert body["result"]["verdict"] == "review"
    headers = {"X-CSRF-Token": client.csrf}

    def release(reason, user="Dana Office"):
        return client.post("/api/override", json={"check_id": body["check_id"], "reason": reason, "user": user},
                           headers=headers)
    assert release("x" * 20_000).status_code == 413  # a request body of 20 KB
    assert release("y" * 3000).status_code == 400  # a reason past 2,000 characters
    assert release("\u200b" * 12 + " " * 10).status_code == 400  # nothing visible
    assert release("A parent volunteer, not a student", user="\u200b\u200b").status_code == 400
    first = release("A parent volunteer, not a student")
    assert first.status_code == 200
    again = release("Released again by someone else", user="Sam")
    assert again.status_code == 400 and "already released by Dana Office at" in again.get_json()["error"]


def test_caption_is_bounded(client, faces):
    r = post_photo(client, faces.stranger.read_bytes(), "s.jpg", caption="word " * 20_000)
    assert r.status_code == 400 and "caption is too long" in r.get_json()["error"]


def test_sign_in_is_a_signed_expiring_cookie_and_guessing_locks_out(db_file, pool):
    token = "correct horse battery staple"
    c = create_app(db_file, token=token, pool=pool).test_client()
    ok = c.post("/login", data={"token": token})
    cookie = ok.headers["Set-Cookie"]
    assert token not in cookie and "Max-Age=43200" in cookie and "HttpOnly" in cookie
    assert "Secure" not in cookie  # plain http on this machine
    secure = c.post("/login", data={"token": token}, base_url="https://checker.school.example",
                    headers={"Host": "localhost"})
    assert "Secure" in secure.headers["Set-Cookie"]
    forged = create_app(db_file, token=token, pool=pool).test_client()
    forged.set_cookie("cg_auth", token)  # the raw token as a cookie no longer signs anyone in
    assert forged.get("/").status_code == 401
    guesser = create_app(db_file, token=token, pool=pool).test_client()
    codes = [guesser.post("/login", data={"token": f"guess {i}"}).status_code for i in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    assert guesser.post("/login", data={"token": token}).status_code == 429  # locked out, even when right
    assert guesser.get("/api/nothing", headers={"Authorization": f"Bearer {token}"}).status_code == 429


def test_tokens_shorter_than_16_characters_are_refused():
    with pytest.raises(ServeError, match="at least 16 random characters"):
        check_bind("0.0.0.0", "fifteen chars!!")


@pytest.mark.slow
def test_a_worker_over_its_memory_limit_gives_an_error_not_a_crash(faces, face_roster, tmp_path):
    """One huge upload must not starve the other workers: the worker's address space is capped
    (CONSENTGUARD_WORKER_MEMORY_GB) and a photo past it is an error verdict."""
    import json as _json
    import subprocess
    import sys

    from PIL import Image
    big = tmp_path / "big.png"
    Image.new("RGB", (9000, 9000), (120, 120, 120)).save(big)  # 81 MP: under the pixel limit
    code = ("import json, sys\n"
            "from consentguard import Checker, open_db\n"
            "from consentguard.runners.check import limit_worker_memory\n"
            "from consentguard.models import face_models\n"
            "face_models()\n"
            "limit_worker_memory(1.2)\n"
            f"r = Checker(open_db({str(face_roster)!r}), record=False).check_path({str(big)!r})\n"
            "print(json.dumps([r.verdict, r.reasons]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    verdict, reasons = _json.loads(done.stdout.strip().splitlines()[-1])
    assert verdict == "error", (reasons, done.stderr[-500:])
    assert "memory limit" in reasons[0]


def test_behind_an_https_proxy_cookies_are_secure(db_file, pool):
    token = "correct horse battery staple"
    proxied = create_app(db_file, token=token, pool=pool, behind_proxy=True,
                         hosts=("checker.school.example",)).test_client()
    r = proxied.post("/login", data={"token": token},
                     headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "checker.school.example",
                              "X-Forwarded-For": "10.1.2.3"})
    assert r.status_code == 303 and "Secure" in r.headers["Set-Cookie"]
    direct = create_app(db_file, token=token, pool=pool).test_client()  # no proxy: the headers are not trusted
    assert "Secure" not in direct.post("/login", data={"token": token},
                                       headers={"X-Forwarded-Proto": "https"}).headers["Set-Cookie"]
