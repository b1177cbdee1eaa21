"""Batch scan: folder walk, all formats, reports, cache, interrupt and resume."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from consentguard import Policy, open_db
from consentguard.cli import cli
from consentguard.runners.scan import find_photos, run_scan

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
    photos, others, _ = find_photos(root)
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
    # the hidden folder was not entered: listed, and no report says everything was checked
    assert doc["complete"] is False and doc["status"].startswith("INCOMPLETE: not everything in the folder")
    assert doc["not_checked"] == [{"path": str(root / ".thumbs"), "reason": "a hidden folder: not entered"}]
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert rows[0]["verdict"] == "INCOMPLETE" and rows[0]["reasons"] == doc["status"]
    assert rows[1]["verdict"] == "block" and rows[1]["student_numbers"] == "900001"
    assert rows[-1] == {"verdict": "not checked", "path": str(root / ".thumbs"), "faces": "", "student_numbers": "",
                        "reasons": "a hidden folder: not entered", "sha256": ""}
    page = (tmp_path / "r.html").read_text()
    assert page.index("INCOMPLETE: not everything") < page.index("<table>") < page.index("a hidden folder: not entered")
    assert "a&lt;b&gt;&amp;.png" in page and "a<b>&.png" not in page
    assert page.count("data:image/jpeg;base64,") == 3 and "http" not in page
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a<b>&.png", "day2/stranger.heic"]


def busy_event(event):
    root, db = event
    for i in range(6):  # more work, so the interruption lands mid-scan
        Image.open(root / "group.jpg").rotate(i + 1).save(root / f"copy{i}.jpg")
    return root, db


def start_scan(root, db, *extra):
    cmd = [str(Path(sys.executable).parent / "consentguard"), "scan", str(root), "--workers", "2", "-q", "--db",
           str(db), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if open_db(db).execute("SELECT count(*) FROM scan_cache").fetchone()[0] >= 1:
            break
    return cmd, proc


@pytest.mark.slow
def test_interrupt_and_resume(event):
    root, db = busy_event(event)
    cmd, proc = start_scan(root, db)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "run the same command again to resume" in err
    cached = open_db(db).execute("SELECT count(*) FROM scan_cache").fetchone()[0]
    assert 1 <= cached < 9
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 4
    assert done.stdout.startswith(f"10 of 10 photos checked ({cached} from the cache)")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"])
def test_interrupted_scan_leaves_reports_that_say_so(event, tmp_path, how):
    """Ctrl-C (the whole process group), SIGTERM or SIGHUP (the scan process only) or SIGKILL mid-scan: the
    CSV, HTML and JSON reports are whole, say at the top that they are incomplete and list the
    photos not checked."""
    root, db = busy_event(event)
    csv_path, html_path, json_path = tmp_path / "r.csv", tmp_path / "r.html", tmp_path / "r.json"
    _, proc = start_scan(root, db, "--csv", str(csv_path), "--html", str(html_path), "--json-file", str(json_path))
    sig = getattr(signal, how)
    if how in ("SIGTERM", "SIGHUP"):
        os.kill(proc.pid, sig)
    else:
        os.killpg(proc.pid, sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129, "SIGKILL": -9}[how], (out, err)
    expected = (f"INCOMPLETE: the scan was interrupted ({how})" if how != "SIGKILL"
                else "INCOMPLETE: written while the scan was running")
    photos = {str(p) for p in find_photos(root).photos}
    # each file is whole and consistent in itself (after SIGKILL they may be from different moments)
    doc = json.loads(json_path.read_text())
    assert doc["complete"] is False and doc["status"].startswith(expected), doc["status"]
    checked = {x["path"] for x in doc["results"]}
    pending = {x["path"] for x in doc["not_checked"] if x["reason"].startswith("not checked")}
    assert len(checked) < 9 and checked | pending == photos and not checked & pending
    rows = list(csv.DictReader(open(csv_path)))
    assert rows[0]["verdict"] == "INCOMPLETE" and rows[0]["reasons"].startswith(expected)
    checked = {r["path"] for r in rows[1:] if r["verdict"] != "not checked"}
    pending = {r["path"] for r in rows if r["verdict"] == "not checked"}
    assert len(checked) < 9 and checked | pending == photos | {str(root / ".thumbs")}
    page = html_path.read_text()
    assert page.index(expected) < page.index("<table>")
    assert all(escape(p) in page for p in photos)  # checked or listed as not checked
    assert not list(tmp_path.glob(".r.*")) or how == "SIGKILL"  # temporary files cleaned up


def test_cache_is_per_day(face_roster):
    """A release that expires overnight must not leave yesterday's cached pass in force."""
    from consentguard import Checker
    from consentguard.inspect.faces import DETECTOR_VERSION
    from consentguard.inspect.image import DECODER_VERSION
    from consentguard.match.names import MATCHER_VERSION
    version = Checker(open_db(face_roster), record=False).version
    assert version.startswith(time.strftime("%Y-%m-%d") + f":{DETECTOR_VERSION}:{DECODER_VERSION}:{MATCHER_VERSION}:sync1:")
    assert DETECTOR_VERSION == "centerface+hog1+rot1+wide1"  # wide shots searched again (issue #12): older cached results are not reused


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


def test_scan_cli_everything_checked_says_so(event, tmp_path):
    root, db = event
    shutil.rmtree(root / ".thumbs")
    r = CliRunner().invoke(cli, ["scan", str(root / "day2"), "--workers", "1", "--json",
                                 "--csv", str(tmp_path / "r.csv"), "--db", str(db)])
    doc = json.loads(r.stdout)
    assert doc["complete"] is True and doc["status"] is None and doc["not_checked"] == []
    assert [row["verdict"] for row in csv.DictReader(open(tmp_path / "r.csv"))] == ["error", "pass"]


@pytest.mark.slow
def test_not_checked_entries_listed_and_exit_status(event, tmp_path):
    """A FIFO would hang the scan; a linked folder could loop: both listed, never a silent "all checked"."""
    root, db = event
    shutil.rmtree(root / ".thumbs")
    (root / "day2" / "broken.jpg").unlink()
    (root / "group.jpg").unlink()
    os.mkfifo(root / "pipe.jpg")
    os.symlink(root / "day2", root / "again")
    cmd = [str(Path(sys.executable).parent / "consentguard"), "scan", str(root), "--workers", "1", "-q",
           "--db", str(db)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done  # every photo passed, but not everything was checked
    lines = done.stdout.splitlines()
    assert lines[0].startswith("2 of 2 photos checked")
    assert f"NOT CHECKED  {root / 'pipe.jpg'}: a FIFO (named pipe): not read" in lines
    assert f"NOT CHECKED  {root / 'again'}: a link to a folder: not followed" in done.stdout
    assert lines[-1].startswith("INCOMPLETE: not everything in the folder was checked.")


def test_copy_passed_copies_only_the_bytes_checked(event, tmp_path, faces):
    """A photo swapped after it passed (here: for a photo of the restricted student) is not copied."""
    from consentguard.runners.scan import copy_passed_photos
    root, db = event
    scan = run_scan(open_db(db), str(db), root, workers=1)
    assert {Path(r.doc["path"]).name for r in scan.results if r.verdict == "pass"} == {"stranger.heic", "a<b>&.png"}
    Image.open(faces.restricted_other).save(root / "day2" / "stranger.heic")  # changed since its check
    out = tmp_path / "out"
    refused = copy_passed_photos(scan, out)
    assert refused == [(root / "day2" / "stranger.heic", "passed, but the file changed after it was checked: not "
                        "copied; run the scan again to check the new version")]
    assert [p.name for p in out.rglob("*") if p.is_file()] == ["a<b>&.png"]
    assert (out / "a<b>&.png").read_bytes() == (root / "a<b>&.png").read_bytes()


def test_reports_are_private_and_defuse_formulas(event, tmp_path, monkeypatch):
    """Reports name students: created 0600 whatever the umask. Scanning "." puts file names at the
    start of CSV cells: a name that is a formula is shown as text, not run."""
    root, db = event
    shutil.copy(root / "a<b>&.png", root / "=HYPERLINK(1).png")
    (root / "@SUM(1).jpg").write_bytes(b"not a photo")  # its error reason starts with its path too
    monkeypatch.chdir(root)
    os.umask(0o022)
    reports = [tmp_path / "r.csv", tmp_path / "r.html", tmp_path / "r.json"]
    r = CliRunner().invoke(cli, ["scan", ".", "--workers", "1", "--csv", str(reports[0]), "--html",
                                 str(reports[1]), "--json-file", str(reports[2]), "--db", str(db)])
    assert r.exit_code == 4, r.output
    assert [oct(p.stat().st_mode & 0o777) for p in reports] == ["0o600"] * 3
    rows = {row["path"]: row for row in csv.DictReader(open(reports[0]))}
    assert rows["'=HYPERLINK(1).png"]["verdict"] == "pass"
    assert rows["'@SUM(1).jpg"]["reasons"].startswith("'@SUM(1).jpg: ")
    assert not [c for row in csv.reader(open(reports[0])) for c in row if c[:1] in ("=", "+", "-", "@")]
    assert list(tmp_path.glob(".r.*")) == []  # no temporary files left behind


def test_csv_cells_defused_and_capped(tmp_path):
    from consentguard.output.report import MAX_CELL, write_scan_csv
    doc = {"verdict": "review", "path": "=cmd|' /C calc'!A0", "faces": [], "student_numbers": ["-1"],
           "reasons": ["x" * 40_000], "sha256": None}
    write_scan_csv([doc], tmp_path / "r.csv")
    row = list(csv.DictReader(open(tmp_path / "r.csv")))[0]
    assert row["path"] == "'=cmd|' /C calc'!A0" and row["student_numbers"] == "'-1"
    assert len(row["reasons"]) == MAX_CELL and row["reasons"].endswith("(cut here: the JSON report has the rest)")


def test_crowd_photo_reasons_summarised_in_every_report(tmp_path, faces, face_roster):
    """A crowd photo's hundreds of "too small" faces: one reason in CSV, HTML, JSON and terminal."""
    root = tmp_path / "crowd"
    root.mkdir()
    crowd = faces.group.parent / "crowd-25.jpg"
    if not crowd.is_file():
        pytest.skip("no crowd photo in this face set")
    shutil.copy(crowd, root / "crowd.jpg")
    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    r = CliRunner().invoke(cli, ["scan", str(root), "--workers", "1", "--json", "--csv", str(tmp_path / "r.csv"),
                                 "--db", str(db)])
    doc = json.loads(r.stdout)["results"][0]
    small = [f for f in doc["faces"] if "too small" in (f["reason"] or "")]
    assert len(small) > 100  # each face keeps its own entry in the JSON
    assert len(doc["reasons"]) < 5 and any(x.startswith(f"{len(small)} faces are too small to identify (")
                                           for x in doc["reasons"]), doc["reasons"]
    row = list(csv.DictReader(open(tmp_path / "r.csv")))[0]
    assert len(row["reasons"]) < 1000 and "faces are too small to identify" in row["reasons"]


def test_a_sync_during_the_scan_is_survived_and_later_photos_follow_it(tmp_path, faces, face_roster):
    """A nightly sync landing mid-scan newly restricts Jordan (C): the scan carries on, the photo
    checked after the sync is judged against the new roster, and the summary says so."""
    from consentguard import sync_roster
    from consentguard.output.report import scan_lines

    from conftest import C, N, R, student, write_export
    root = tmp_path / "event"
    root.mkdir()
    shutil.copy(faces.stranger, root / "1-first.jpg")
    shutil.copy(faces.clear_other, root / "2-jordan.jpg")
    db_path = tmp_path / "cg.db"
    shutil.copy(face_roster, db_path)
    export = write_export(tmp_path / "new.csv", [
        student(R, "Marcus", "Ellery", photo="Y"), student(C, "Jordan", "Whitfield", photo="Y"),
        student(N, "Priya", "Natarajan", name="Yes"), student("900004", "Amelia", "Hartley")])
    portraits = tmp_path / "portraits"
    portraits.mkdir()
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    shutil.copy(faces.clear_portrait, portraits / f"{C}.jpg")
    synced = []

    def progress(_):
        if not synced:  # after the first photo: the nightly job runs
            synced.append(sync_roster(open_db(db_path), export, portraits).sync_id)

    scan = run_scan(open_db(db_path), str(db_path), root, Policy(ocr=False), workers=1, progress=progress)
    by_name = {Path(r.doc["path"]).name: r.doc for r in scan.results}
    assert by_name["1-first.jpg"]["roster_sync_id"] == 1
    assert by_name["2-jordan.jpg"]["roster_sync_id"] == synced[0] and by_name["2-jordan.jpg"]["verdict"] == "block"
    assert scan.roster_changed == synced[0]
    assert any(line.startswith(f"Note: a roster sync (#{synced[0]}) landed during the scan") for line in scan_lines(scan))
