"""Videos on the page (issue #14): the endpoints in-process with a real worker process, real clips
made from the real test faces (tests/helpers/videos.py) and a real database. R is photo-restricted."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import stat
import time
from pathlib import Path

import pytest
from PIL import Image

from consentguard import Checker, Policy, open_db
from consentguard.web import create_app, video_jobs
from consentguard.web.video_jobs import ROOT_PREFIX, VideoJobs, sweep_stale

from conftest import R
from helpers.videos import face_card, make_clip

pytestmark = pytest.mark.faces


def client_of(app):
    c = app.test_client()
    page = c.get("/")
    c.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text).group(1)
    return c


@pytest.fixture
def app(db_file, pool):
    app = create_app(db_file, pool=pool)
    yield app
    app.extensions["consentguard_videos"].close()


@pytest.fixture
def client(app):
    return client_of(app)


@pytest.fixture(scope="module")
def clip(faces, tmp_path_factory):
    """7 s, the restricted student's face on screen from 4 s to 6 s."""
    return make_clip(tmp_path_factory.mktemp("clips") / "concert.mp4", 7, [(4, 6, face_card(faces.restricted_other))])


def upload(client, data: bytes, name="concert.mp4", caption="", csrf=True, **headers):
    if csrf:
        headers["X-CSRF-Token"] = client.csrf
    return client.post("/api/video", data={"video": (io.BytesIO(data), name), "caption": caption, "channel": ""},
                       headers=headers, content_type="multipart/form-data")


def wait(client, job_id: str, timeout: float = 240) -> tuple[dict, list[dict]]:
    """Poll the job as the page does: its last answer and every answer seen while it worked."""
    seen, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        body = client.get(f"/api/video/{job_id}").get_json()
        seen.append(body)
        if body["state"] not in ("uploading", "checking"):
            return body, seen
        time.sleep(0.2)
    raise AssertionError(f"still {seen[-1]['state']} after {timeout} s")


def job_folder(app, job_id: str) -> Path:
    return app.extensions["consentguard_videos"].root() / job_id


@pytest.mark.slow
def test_clip_is_checked_in_the_background_with_progress_a_timeline_and_a_safe_copy(app, client, clip, db_file,
                                                                                   tmp_path):
    r = upload(client, clip.read_bytes())
    assert r.status_code == 202, r.text
    job = r.get_json()
    assert job["state"] == "checking" and job["name"] == "concert.mp4"
    folder = job_folder(app, job["id"])
    # biometric-data minimisation: the clip sits in a private folder, readable by this user only
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "concert.mp4").stat().st_mode) == 0o600

    body, seen = wait(client, job["id"])
    progress = [b["seconds"] for b in seen if b["state"] == "checking" and b["seconds"] is not None]
    assert progress and progress == sorted(progress) and progress[0] < 7, seen  # the page saw it work
    assert all(b["duration"] == pytest.approx(7.0, abs=0.1) for b in seen if b["seconds"] is not None)
    assert body["state"] == "done" and body["seconds"] == body["duration"]
    doc = body["result"]
    assert doc["verdict"] == "block" and doc["path"] == "concert.mp4"
    assert str(folder) not in json.dumps(body)  # the private folder is never named to the page
    (face,) = [f for f in doc["faces"] if f["verdict"] == "block"]
    assert face["student_number"] == R
    assert face["start"] == pytest.approx(4.0, abs=0.3) and face["end"] == pytest.approx(6.0, abs=0.3)
    assert face["reason"].startswith("0:04-0:06 face at ") and "Marcus Ellery" in face["reason"]

    # the moment's thumbnail: the frame at the face's time, small, with the box drawn in red
    thumb = body["thumbnails"][doc["faces"].index(face)]
    im = Image.open(io.BytesIO(base64.b64decode(thumb.split(",", 1)[1]))).convert("RGB")
    assert max(im.size) == video_jobs.THUMB_PX
    scale = im.width / doc["image"]["width"]
    left, top, right, bottom = (round(v * scale) for v in face["box"])
    r_, g, b_ = im.getpixel((left + 1, (top + bottom) // 2))
    assert r_ > 150 and g < 90 and b_ < 90, (r_, g, b_)
    assert im.crop((left + 4, top + 4, right - 4, bottom - 4)).convert("L").getextrema()[1] > 150  # a face, not grey

    row = open_db(db_file).execute("SELECT interface, verdict, file_name FROM checks WHERE id = ?",
                                   [body["check_id"]]).fetchone()
    assert row == ("web", "block", "concert.mp4")
    assert body["safe_copies"] is True and (folder / "concert.mp4").exists()  # kept for its safe copy

    # the safe copy: made in the background (polled the same way), then downloaded as a file
    csrf = {"X-CSRF-Token": client.csrf}
    assert client.post(f"/api/video/{job['id']}/safe-copy").status_code == 403
    r = client.post(f"/api/video/{job['id']}/safe-copy", headers=csrf)
    assert r.status_code == 202 and r.get_json()["safe_copy"] == "making"
    end = time.monotonic() + 240
    while (body := client.get(f"/api/video/{job['id']}").get_json())["safe_copy"] == "making":
        assert time.monotonic() < end
        time.sleep(0.2)
    assert body["safe_copy"] == "ready", body.get("safe_copy_error")
    assert body["safe_copy_url"] == f"/api/video/{job['id']}/safe-copy" and body["safe_copy_name"] == "concert.safe.mp4"
    download = client.get(body["safe_copy_url"])
    assert download.status_code == 200 and download.mimetype == "video/mp4"
    assert download.headers["Content-Disposition"] == "attachment; filename=concert.safe.mp4"
    safe = tmp_path / "concert.safe.mp4"
    safe.write_bytes(download.data)
    assert download.data[4:8] == b"ftyp"
    assert not (folder / "concert.mp4").exists()  # the clip itself went once its copy was made
    again = Checker(open_db(db_file), record=False).check_path(safe)
    assert R not in again.decision.student_numbers, again.reasons

    assert client.post(f"/api/video/{job['id']}/delete", headers={"X-CSRF-Token": client.csrf}).status_code == 200
    assert not folder.exists()
    assert client.get(f"/api/video/{job['id']}").status_code == 404
    assert "consentguard_videos" in app.extensions and len(app.extensions["consentguard_videos"]) == 0


def test_over_size_clip_is_refused_with_a_clear_message_and_nothing_kept(db_file, pool):
    app = create_app(db_file, Policy(video_max_upload_mb=1), pool=pool)
    client = client_of(app)
    r = upload(client, os.urandom(1024 * 1024 + 1))
    assert r.status_code == 413
    assert r.get_json()["error"].startswith("video too large: at most 1 MB per video")
    root = app.extensions["consentguard_videos"].root()
    assert list(root.iterdir()) == [] and len(app.extensions["consentguard_videos"]) == 0
    assert 'data-video-max-mb="1"' in client.get("/").text  # the page refuses it before uploading
    app.extensions["consentguard_videos"].close()
    assert not root.exists()


@pytest.mark.slow
def test_a_file_that_is_not_a_video_is_a_one_line_error(app, client):
    r = upload(client, b"hello", "notes.txt")
    assert r.status_code == 400 and r.get_json()["error"] == \
        "notes.txt: not a video this page checks (MP4, MOV, M4V, WebM or AVI)"
    assert upload(client, b"", "empty.mp4").get_json()["error"] == "empty.mp4: the file is empty: not checked"
    two = client.post("/api/video", data={"video": [(io.BytesIO(b"a"), "a.mp4"), (io.BytesIO(b"b"), "b.mp4")]},
                      headers={"X-CSRF-Token": client.csrf}, content_type="multipart/form-data")
    assert two.status_code == 400 and "exactly one video" in two.get_json()["error"]
    assert list(app.extensions["consentguard_videos"].root().iterdir()) == []

    r = upload(client, b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000), "broken.mp4")  # named a video, is not one
    assert r.status_code == 202
    body, _ = wait(client, r.get_json()["id"])
    doc = body["result"]
    assert body["state"] == "done" and doc["verdict"] == "error"
    assert doc["reasons"][0].startswith("broken.mp4: ") and "\n" not in doc["reasons"][0]
    assert body["thumbnails"] == [] and not (job_folder(app, body["id"]) / "broken.mp4").exists()


def test_video_endpoints_keep_the_page_security_rules(app, client, db_file, pool):
    assert upload(client, b"x", csrf=False).status_code == 403
    assert upload(client, b"x", Origin="http://evil.example").status_code == 403
    assert upload(client, b"x", Host="evil.example").status_code == 400  # DNS rebinding
    job = app.extensions["consentguard_videos"].new("someone-else", "theirs.mp4")
    job.state = "done"
    # another browser session cannot see, delete or download someone's clip
    assert client.get(f"/api/video/{job.id}").status_code == 404
    assert client.post(f"/api/video/{job.id}/delete", headers={"X-CSRF-Token": client.csrf}).status_code == 404
    assert client.get(f"/api/video/{job.id}/safe-copy").status_code == 404
    assert client.post(f"/api/video/{job.id}/delete").status_code == 403  # and no CSRF token: refused first
    assert client.get("/api/video/../../etc").status_code == 404
    locked = create_app(db_file, token="t" * 20, pool=pool).test_client()
    assert locked.get(f"/api/video/{job.id}").status_code == 401
    assert locked.post("/api/video").status_code == 401


def test_idle_and_excess_jobs_are_forgotten_with_their_files(tmp_path):
    clock = [0.0]
    store = VideoJobs(clock=lambda: clock[0])
    try:
        job = store.new("s", "a.mp4")
        job.clip.write_bytes(b"clip")
        job.state = "done"
        clock[0] += video_jobs.IDLE_SECONDS + 1
        assert store.find("s", job.id) is None and not job.folder.exists()
        busy = [store.new("s", f"{k}.mp4") for k in range(video_jobs.MAX_PER_SESSION)]
        for b in busy:
            b.state = "checking"
        with pytest.raises(video_jobs.JobsFull, match="being checked already"):
            store.new("s", "one-more.mp4")
        assert store.new("t", "other-session.mp4").session == "t"
    finally:
        root = store.root()
        store.close()
    assert not root.exists()


def test_folders_of_a_killed_server_are_swept(tmp_path):
    dead = tmp_path / f"{ROOT_PREFIX}999999999-abc"
    alive = tmp_path / f"{ROOT_PREFIX}{os.getpid()}-def"
    for folder in (dead, alive):
        (folder / "123").mkdir(parents=True)
        (folder / "123" / "clip.mp4").write_bytes(b"x")
    assert sweep_stale(tmp_path) == [dead]
    assert not dead.exists() and alive.exists()


@pytest.mark.slow
def test_parts_not_checked_are_listed_for_the_page(app, client, faces, tmp_path):
    """A clip cut in half (a phone's, index first): the part not read is a review, listed apart
    (the page shows it first), naming the clip by its own name."""
    from helpers.videos import head_card

    whole = make_clip(tmp_path / "whole.mp4", 4, [(1, 3, head_card(faces.clear_other))], faststart=True)
    data = whole.read_bytes()
    r = upload(client, data[: len(data) // 2], "cut.mp4")
    body, _ = wait(client, r.get_json()["id"])
    assert body["result"]["verdict"] == "review", body["result"]["reasons"]
    part = next(p for p in body["unchecked"] if p.startswith("cut.mp4: the video stream stops at 0:0"))
    assert part in body["result"]["reasons"] and all(p.startswith("cut.mp4: ") for p in body["unchecked"])
    # no safe copy of a clip not read whole (it would look safe); the clip went as soon as it was checked
    assert body["safe_copies"] is False and not (job_folder(app, body["id"]) / "cut.mp4").exists()
    r = client.post(f"/api/video/{body['id']}/safe-copy", headers={"X-CSRF-Token": client.csrf})
    assert r.status_code == 400 and "parts of the clip were not checked" in r.get_json()["error"]


def test_a_moment_is_found_by_seeking_upright_even_in_a_rotated_or_late_starting_clip(tmp_path):
    """The thumbnails' frames: the one shown at the time a face entry names, turned as the clip says
    (a phone's rotation), timed from the clip's first frame (one cut from a longer recording)."""
    import numpy as np

    from consentguard.inspect.video import open_video
    from consentguard.web.video_jobs import frame_at

    bright = np.full((360, 640, 3), 230, np.uint8)
    bright[:40] = 0  # a dark band on top: shows the frame is upright
    for rotation, start in ((90, 0.0), (None, 5.0)):
        clip = make_clip(tmp_path / f"r{rotation}.mp4", 3, [(1.0, 1.5, bright)], rotation=rotation, start=start)
        with open_video(clip, 120, 4096) as video:
            shown = frame_at(video, 1.0)
            assert shown.shape == (360, 640, 3) and shown[200:].mean() > 200 and shown[:30].mean() < 40
            assert frame_at(video, 2.0).mean() < 120  # grey again after the scene
            assert frame_at(video, 9.0) is None       # past the end


def test_a_blocked_clip_is_kept_private_and_named_by_its_content_hash(tmp_path):
    """--keep-blocked: the clip is copied whole, 0600, into the folder made private (0700) even when it
    already existed with a wider mode, named by its hash, as a blocked photo is (tests/test_web.py)."""
    from consentguard.inspect.video import sha256_file
    from consentguard.web.video_jobs import Job
    from consentguard.web.videos import keep_clip

    folder = tmp_path / "job"
    folder.mkdir(mode=0o700)
    job = Job("j1", "s1", "concert.mp4", folder)
    job.clip.write_bytes(b"\x00clip" * 1000)
    kept = tmp_path / "kept"
    kept.mkdir(mode=0o755)
    sha = sha256_file(job.clip)
    keep_clip(kept, sha, job)
    (copy,) = kept.iterdir()
    assert copy.name == f"{sha[:16]}_concert.mp4" and copy.read_bytes() == job.clip.read_bytes()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o700 and stat.S_IMODE(copy.stat().st_mode) == 0o600
