"""Issue #15: when consent changes, find what was already published (consentguard recheck / posted)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from datetime import date

import pytest
from click.testing import CliRunner
from PIL import Image

from consentguard import open_db, sync_roster
from consentguard.cli import cli
from consentguard.runners.check import Checker
from consentguard.runners.recheck import PostError, mark_posted, recheck
from consentguard.store import audit
from tests.conftest import C, R, student, write_export

#: every check runs the face stage (the models load on the first photo)
pytestmark = pytest.mark.faces


def _sync(db, tmp_path, rows, portraits=None, tag="1"):
    export = write_export(tmp_path / f"export{tag}.csv", rows)
    return sync_roster(db, export, portraits, index_policy="restricted")


def _png(path, colour=(120, 160, 200)):
    Image.new("RGB", (40, 40), colour).save(path)
    return path


def _check(db, path, caption=None, channel=None):
    return Checker(db, channel=channel).check_path(path, caption)


PERMITTED = [student("900010", "Tamsin", "Okafor"), student("900011", "Leo", "Brandt")]


# -- captions and bookkeeping -------------------------------------------

def test_a_caption_naming_a_student_who_becomes_name_restricted_is_listed_with_its_post(tmp_path, db_path):
    db = open_db(db_path)
    _sync(db, tmp_path, PERMITTED)
    photo = _png(tmp_path / "fair.png")
    assert _check(db, photo, "Tamsin Okafor at the science fair").verdict == "pass"
    mark_posted(db, photo, "website", "2026-10-02", "https://school.example/news/fair")
    assert recheck(db, None).findings == []  # nothing changed: nothing listed
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Yes"), PERMITTED[1]], tag="2")
    report = recheck(db, None)
    [finding] = report.findings
    doc = finding.to_json()
    assert doc["status"] == "affected" and doc["verdict"] == "block"
    assert doc["newly_restricted"] == [{"student_number": "900010", "name": "Tamsin Okafor", "scope": "name",
                                        "why": "name-restricted since the check"}]
    assert any("Tamsin Okafor" in b for b in doc["because"])
    assert doc["posted"][0]["channel"] == "website" and doc["posted"][0]["on"] == "2026-10-02"
    assert doc["posted"][0]["path"] == str(photo.resolve())
    assert doc["earlier"]["verdict"] == "pass" and doc["caption"] == "Tamsin Okafor at the science fair"
    assert report.to_json()["take_down"] == 1


def test_a_caption_naming_only_permitted_students_is_never_listed(tmp_path, db_path):
    db = open_db(db_path)
    _sync(db, tmp_path, PERMITTED)
    photo = _png(tmp_path / "fair.png")
    _check(db, photo, "Leo Brandt at the science fair")
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Yes"), PERMITTED[1]], tag="2")
    report = recheck(db, None)
    assert report.findings == [] and report.rechecked == 1 and report.looked_at == 1


def test_a_deleted_photo_is_listed_as_missing_never_dropped_and_a_moved_one_is_found(tmp_path, db_path):
    db = open_db(db_path)
    _sync(db, tmp_path, PERMITTED)
    gone, moved = _png(tmp_path / "gone.png", (1, 2, 3)), _png(tmp_path / "moved.png", (4, 5, 6))
    _check(db, gone, "Lunch time")
    _check(db, moved, "Tamsin Okafor reads")
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Yes", photo="Y"), PERMITTED[1]], tag="2")
    gone.unlink()
    (tmp_path / "archive").mkdir()
    shutil.move(moved, tmp_path / "archive" / "renamed.png")
    report = recheck(db, None, search=[tmp_path / "archive"])
    by_status = {f.status: f for f in report.findings}
    assert set(by_status) == {"file missing", "affected"}
    assert "cannot re-check: file missing" in by_status["file missing"].because[0]
    assert by_status["affected"].path == str(tmp_path / "archive" / "renamed.png")
    # without the search folder, the moved one is missing too: listed, not dropped
    assert {f.status for f in recheck(db, None, record=False).findings} == {"file missing"}


def test_a_changed_file_is_not_taken_for_the_photo_that_was_checked(tmp_path, db_path):
    db = open_db(db_path)
    _sync(db, tmp_path, PERMITTED)
    photo = _png(tmp_path / "p.png")
    _check(db, photo, "Our library")
    _png(photo, (9, 9, 9))  # edited in place after the check
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", photo="Y"), PERMITTED[1]], tag="2")
    [finding] = recheck(db, None).findings
    assert finding.status == "file changed" and finding.verdict == "review"


def test_an_expired_release_is_a_new_restriction(tmp_path, db_path):
    from datetime import timedelta

    from consentguard.roster.mapping import load_mapping

    (tmp_path / "m.toml").write_text('name = "releases"\npolicy = "opt-in"\n[columns]\nstudent_number = "ID"\n'
                                     'first_name = "First"\nlast_name = "Last"\n[[consent]]\ncolumn = "Release"\n'
                                     'meaning = "permission"\nexpires_column = "Until"\n')
    ended = date.today() - timedelta(days=10)
    (tmp_path / "e.csv").write_text(f"ID,First,Last,Release,Until\n1,Ann,Lee,Yes,{ended.isoformat()}\n")
    db = open_db(db_path)
    sync_roster(db, tmp_path / "e.csv", mapping=load_mapping(tmp_path / "m.toml"))
    photo = _png(tmp_path / "p.png")
    doc = Checker(db, record=False).check_path(photo, "Ann Lee wins the relay").to_json()
    # the check as it was recorded three weeks ago, while the release still ran
    earlier = (date.today() - timedelta(days=21)).isoformat() + "T09:00:00+00:00"
    audit.record_event(db, {"checked_at": earlier, "os_user": "staff", "interface": "cli", "file_name": "p.png",
                            "sha256": doc["sha256"], "verdict": "pass", "reasons": "[]", "student_numbers": "[]",
                            "sync_id": doc["roster_sync_id"], "result": json.dumps({**doc, "verdict": "pass"})})
    report = recheck(db, None)
    assert {(n.student_number, n.scope, n.why) for f in report.findings for n in f.new} == {
        ("1", "name", "name release ended since the check"), ("1", "photo", "photo release ended since the check")}
    assert [f.status for f in report.findings] == ["affected"]


def test_findings_are_audited_once_and_copies_kept_private(tmp_path, db_path):
    db = open_db(db_path)
    _sync(db, tmp_path, PERMITTED)
    photo = _png(tmp_path / "fair.png")
    _check(db, photo, "Tamsin Okafor at the fair")
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Yes"), PERMITTED[1]], tag="2")
    keep = tmp_path / "removed"
    report = recheck(db, None, keep_copies=keep)
    [finding] = report.findings
    assert stat.S_IMODE(os.stat(keep).st_mode) == 0o700
    kept = sorted(keep.iterdir())
    assert [p.name for p in kept] == [f"check-{finding.check['id']}-fair.png", f"check-{finding.check['id']}-fair.png.json"]
    assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in kept)
    assert kept[0].read_bytes() == photo.read_bytes()
    assert json.loads(kept[1].read_text())["caption"] == "Tamsin Okafor at the fair"
    recheck(db, None)  # the same finding again: not recorded twice
    events = [r["event"] for r in audit.query(db)]
    assert events.count("recheck") == 1 and events.count("takedown-copy") == 1
    assert audit.verify(db).ok


def test_an_override_release_counts_as_let_out(tmp_path, db_path):
    db = open_db(db_path)
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Yes"), PERMITTED[1]])
    photo = _png(tmp_path / "p.png")
    result = _check(db, photo, "Tamsin O. and friends")
    assert result.verdict == "review"
    check_id = audit.query(db, limit=1)[0]["id"]
    audit.record_override(db, check_id, "initials only, checked with the office", "A. Admin")
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Yes"),
                         student("900011", "Leo", "Brandt", name="Yes")], tag="2")
    report = recheck(db, None)
    assert report.looked_at == 1 and report.rechecked == 1
    assert report.findings == []  # Leo is not in it; Tamsin was restricted then (released by staff)


def test_posted_refuses_what_did_not_pass_and_what_was_never_checked(tmp_path, db_path):
    db = open_db(db_path)
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Yes")])
    photo = _png(tmp_path / "p.png")
    with pytest.raises(PostError, match="never checked"):
        mark_posted(db, photo, "website")
    _check(db, photo, "Tamsin Okafor")
    with pytest.raises(PostError, match="'block', not released: not marked as posted"):
        mark_posted(db, photo, "website")
    with pytest.raises(PostError, match="unknown channel"):
        mark_posted(db, photo, "billboard")


def test_cli_posted_and_recheck_with_reports_and_exit_status(tmp_path, db_path):
    db = open_db(db_path)
    _sync(db, tmp_path, PERMITTED)
    photo = _png(tmp_path / "fair.png")
    _check(db, photo, "Tamsin Okafor at the fair")
    runner = CliRunner()
    out = runner.invoke(cli, ["posted", str(photo), "--channel", "social", "--on", "2026-11-01", "--db", str(db_path)])
    assert out.exit_code == 0, out.output
    assert runner.invoke(cli, ["recheck", "--db", str(db_path)]).exit_code == 0
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Yes"), PERMITTED[1]], tag="2")
    out = runner.invoke(cli, ["recheck", "--db", str(db_path), "--csv", str(tmp_path / "t.csv"),
                              "--html", str(tmp_path / "t.html")])
    assert out.exit_code == 4, out.output
    assert "TAKE DOWN" in out.output and "social 2026-11-01" in out.output
    assert "Tamsin Okafor" in (tmp_path / "t.html").read_text()
    csv_text = (tmp_path / "t.csv").read_text()
    assert csv_text.splitlines()[0].startswith("status,posted_on,channel")
    assert "2026-11-01" in csv_text
    doc = json.loads(runner.invoke(cli, ["recheck", "--json", "--db", str(db_path)]).output)
    assert doc["results"][0]["posted"][0]["channel"] == "social"


# -- faces: a student permitted at the first sync and restricted at the second ----------------

def test_a_photo_of_a_student_restricted_since_is_listed_and_a_clear_one_is_not(faces, tmp_path, db_path):
    portraits = tmp_path / "portraits"
    portraits.mkdir()
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    shutil.copy(faces.clear_portrait, portraits / f"{C}.jpg")
    shutil.copy(faces.stranger, portraits / "900009.jpg")
    db = open_db(db_path)
    # someone photo-restricted from the start: the faces were judged for restricted students then
    # (with nobody restricted, a face too blurred to judge passes, and the quick re-check is not used)
    held = student("900009", "Ines", "Marlow", photo="Y")
    first = [student(R, "Marcus", "Ellery"), student(C, "Jordan", "Whitfield"), held]
    _sync(db, tmp_path, first, portraits)
    of_r, of_c = tmp_path / "r.jpg", tmp_path / "c.jpg"
    shutil.copy(faces.restricted_other, of_r)
    shutil.copy(faces.clear_other, of_c)
    assert _check(db, of_r).verdict == "pass" and _check(db, of_c).verdict == "pass"
    mark_posted(db, of_r, "yearbook")
    mark_posted(db, of_c, "yearbook")
    _sync(db, tmp_path, [student(R, "Marcus", "Ellery", photo="Y"), student(C, "Jordan", "Whitfield"), held],
          portraits, tag="2")
    report = recheck(db, None)
    [finding] = report.findings  # the clear photo is never listed
    assert finding.path == str(of_r) and finding.verdict == "block" and finding.status == "affected"
    assert finding.new[0].student_number == R and finding.new[0].scope == "photo"
    assert any("Marcus Ellery" in b for b in finding.because)
    assert report.rechecked == 2 and report.looked_at == 2
    assert report.quick == 1  # the clear photo: its face encoded again, nobody newly restricted near it


def test_the_quick_recheck_is_not_used_where_it_would_not_be_exact(faces, tmp_path, db_path):
    """A newly photo-restricted student without a portrait cannot be compared: checked in full, and
    an earlier check from another detection mode is checked in full too."""
    db = open_db(db_path)
    _sync(db, tmp_path, [student(R, "Marcus", "Ellery"), student(C, "Jordan", "Whitfield")])
    of_c = tmp_path / "c.jpg"
    shutil.copy(faces.clear_other, of_c)
    assert _check(db, of_c).verdict == "pass"
    _sync(db, tmp_path, [student(R, "Marcus", "Ellery", photo="Y"), student(C, "Jordan", "Whitfield")], tag="2")
    report = recheck(db, None)
    assert report.rechecked == 1 and report.quick == 0
    assert any("no usable portrait" in p or "portrait" in p for p in report.problems), report.problems


def test_posted_marks_a_folder_of_published_photos_and_names_the_ones_it_cannot(tmp_path, db_path):
    db = open_db(db_path)
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Yes")])
    site = tmp_path / "website"
    (site / "2026").mkdir(parents=True)
    ok, blocked, unchecked = (_png(site / "a.png", (1, 1, 1)), _png(site / "2026" / "b.png", (2, 2, 2)),
                              _png(site / "2026" / "c.png", (3, 3, 3)))
    _check(db, ok, "Lunch")
    _check(db, blocked, "Tamsin Okafor")
    (site / "notes.txt").write_text("not a photo")
    out = CliRunner().invoke(cli, ["posted", str(site), "--channel", "website", "--db", str(db_path)])
    assert out.exit_code == 1
    assert f"posted  {ok}: on website" in out.output
    assert f"Error: {blocked}: its latest check" in out.output and f"Error: {unchecked}: never checked" in out.output
    assert [r["event"] for r in audit.query(db)].count("posted") == 1
