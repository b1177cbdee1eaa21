"""Batch scan: folder walk, all formats, reports, cache, interrupt and resume."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from consentguard import open_db
from consentguard.cli import cli
from consentguard.scan import find_photos, run_scan

pytestmark = pytest.mark.faces


@pytest.fixture
def event(tmp_path, faces, face_roster):
    """An event folder: a blocked group photo, a HEIC of a stranger, a broken file, noise."""
    root = tmp_path / "event"
    (root / "day2").mkdir(parents=True)
    (root / ".thumbs").mkdir()
    shutil.copy(faces.group, root / "group.jpg")
    Image.open(faces.stranger).save(root / "day2" / "stranger.heic")
    (root / "day2" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    shutil.copy(faces.clear_other, root / "a<b>&.png")  # hostile name for the HTML report
    (root / "notes.txt").write_text("not a photo")
    shutil.copy(faces.group, root / ".thumbs" / "hidden.jpg")
    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    return root, db


def test_find_photos(event):
    root, _ = event
    assert [p.relative_to(root).as_posix() for p in find_photos(root)[0]] == [
        "a<b>&.png", "group.jpg", "day2/broken.jpg", "day2/stranger.heic"]
    assert [p.name for p in find_photos(root)[1]] == ["notes.txt"]  # reported, not silently ignored


def test_photo_without_extension_is_still_checked(event):
    root, db_path = event
    shutil.copy(root / "group.jpg", root / "day2" / "IMG_0412")  # exported without an extension
    photos, others = find_photos(root)
    assert root / "day2" / "IMG_0412" in photos and [p.name for p in others] == ["notes.txt"]
    scan = run_scan(open_db(db_path), str(db_path), root, workers=1)
    assert {Path(r.doc["path"]).name: r.verdict for r in scan.results}["IMG_0412"] == "block"


def test_scan_results_cache_and_audit(event):
    root, db_path = event
    db = open_db(db_path)
    first = run_scan(db, str(db_path), root, workers=1)
    verdicts = {Path(r.doc["path"]).name: r.verdict for r in first.results}
    assert verdicts == {"group.jpg": "block", "stranger.heic": "pass", "broken.jpg": "error", "a<b>&.png": "pass"}
    assert [r.verdict for r in first.worst_first()][:2] == ["block", "error"]
    assert first.cached == 0
    again = run_scan(db, str(db_path), root, workers=1)
    assert again.cached == 3  # errors are never cached: they are checked again
    assert {Path(r.doc["path"]).name: r.verdict for r in again.results} == verdicts
    thorough = run_scan(db, str(db_path), root, workers=1, policy=__import__("consentguard").Policy(detect_mode="thorough"))
    assert thorough.cached == 0  # other settings: a different cache entry
    rows = list(db.query("SELECT interface, verdict FROM checks WHERE interface = 'scan'"))
    assert len(rows) == 12


def test_scan_cli_reports(event, tmp_path):
    root, db = event
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["scan", str(root), "--workers", "1", "--json", "--csv", str(tmp_path / "r.csv"),
                                 "--html", str(tmp_path / "r.html"), "--copy-passed", str(out), "--db", str(db)])
    assert r.exit_code == 4, r.output
    doc = json.loads(r.stdout)
    assert doc["format_version"] == 1 and [x["verdict"] for x in doc["results"]] == ["block", "error", "pass", "pass"]
    assert doc["not_photos"] == [str(root / "notes.txt")]
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert rows[0]["verdict"] == "block" and rows[0]["student_numbers"] == "900001"
    page = (tmp_path / "r.html").read_text()
    assert "a&lt;b&gt;&amp;.png" in page and "a<b>&.png" not in page
    assert page.count("data:image/jpeg;base64,") == 3 and "http" not in page
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a<b>&.png", "day2/stranger.heic"]


def test_interrupt_and_resume(event):
    root, db = event
    for i in range(6):  # more work, so the interruption lands mid-scan
        shutil.copy(root / "group.jpg", root / f"copy{i}.jpg")
        Image.open(root / "group.jpg").rotate(i + 1).save(root / f"copy{i}.jpg")
    cmd = [str(Path(sys.executable).parent / "consentguard"), "scan", str(root), "--workers", "2", "-q", "--db", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.2)
        if open_db(db).execute("SELECT count(*) FROM scan_cache").fetchone()[0] >= 1:
            break
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "run the same command again to resume" in err
    cached = open_db(db).execute("SELECT count(*) FROM scan_cache").fetchone()[0]
    assert 1 <= cached < 9
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 4
    assert done.stdout.startswith(f"10 of 10 photos checked ({cached} from the cache)")


def test_cache_is_per_day(face_roster):
    """A release that expires overnight must not leave yesterday's cached pass in force."""
    from consentguard import Checker
    from consentguard.faces import DETECTOR_VERSION
    version = Checker(open_db(face_roster), record=False).version
    assert version.startswith(time.strftime("%Y-%m-%d") + f":{DETECTOR_VERSION}:names3:sync1:")
    assert DETECTOR_VERSION == "centerface+hog1+rot1"  # turned faces (issue #10): older cached results are not reused


def test_file_and_folder_names_are_checked(tmp_path, faces, face_roster):
    """Two copies of one photo: the one filed under a name-restricted student's name is blocked,
    the other passes (the cache is per place, not only per content)."""
    root = tmp_path / "awards"
    (root / "Natarajan, Priya").mkdir(parents=True)
    (root / "Jean Charest").mkdir()  # a folder named after someone not restricted
    shutil.copy(faces.stranger, root / "Natarajan, Priya" / "IMG_1.jpg")
    shutil.copy(faces.stranger, root / "Jean Charest" / "IMG_2.jpg")
    shutil.copy(faces.stranger, root / "priya_natarajan_certificate.jpg")
    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    for _ in range(2):  # the second run comes from the cache
        scan = run_scan(open_db(db), str(db), root, workers=1)
        got = {Path(r.doc["path"]).relative_to(root).as_posix(): (r.verdict, r.doc["reasons"]) for r in scan.results}
        assert got == {
            "Natarajan, Priya/IMG_1.jpg": ("block", [
                'folder names name-restricted Priya Natarajan (#900003): "Natarajan, Priya" '
                "(last name, first name: block)"]),
            "Jean Charest/IMG_2.jpg": ("pass", []),
            "priya_natarajan_certificate.jpg": ("block", [
                'filename names name-restricted Priya Natarajan (#900003): "priya_natarajan" (full name: block)']),
        }
