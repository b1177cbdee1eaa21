"""Red team of the re-check (issue #15): ways a photo or caption let out earlier, that now shows or
names a newly restricted student, was not listed (fail open), something clear was listed, or a post
mark was lost. Each test reproduced its problem before the fix. Real files, real SQLite, no mocks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from consentguard import open_db, sync_roster
from consentguard.roster.mapping import load_mapping
from consentguard.runners.check import Checker
from consentguard.runners.recheck import PostError, mark_posted, recheck
from consentguard.store import audit
from tests.conftest import ROOT, R, student, write_export

#: every check runs the face stage (the models load on the first photo)
pytestmark = pytest.mark.faces


def _sync(db, tmp_path, rows, portraits=None, tag="1", **kw):
    export = write_export(tmp_path / f"export{tag}.csv", rows, **kw)
    return sync_roster(db, export, portraits, index_policy="restricted")


def _png(path, colour=(120, 160, 200)):
    Image.new("RGB", (40, 40), colour).save(path)
    return path


def _released(db, photo, caption):
    """Check ``photo`` with ``caption``; a review is released by staff (as the page's override does)."""
    result = Checker(db).check_path(photo, caption)
    if result.verdict == "review":
        audit.record_override(db, audit.query(db, limit=1)[0]["id"], "not her: another family's name", "A. Admin")
    return result


# -- channels: a post on another channel than the check judged ----------------------------------

YEARBOOK_MAPPING = ('name = "yearbook-column"\npolicy = "opt-out"\n[columns]\nstudent_number = "ID"\n'
                    'first_name = "First"\nlast_name = "Last"\n[[consent]]\ncolumn = "Media"\n'
                    'meaning = "opt-out"\n[[consent]]\ncolumn = "Yearbook"\nscopes = ["name"]\n'
                    'channels = ["yearbook"]\nmeaning = "opt-out"\n')


def _sync_yearbook(db, tmp_path, yearbook: str, tag: str, media: str = ""):
    (tmp_path / "m.toml").write_text(YEARBOOK_MAPPING)
    (tmp_path / f"y{tag}.csv").write_text(f"ID,First,Last,Media,Yearbook\n900010,Tamsin,Okafor,{media},{yearbook}\n"
                                          "900011,Leo,Brandt,,\n")
    sync_roster(db, tmp_path / f"y{tag}.csv", mapping=load_mapping(tmp_path / "m.toml"))


def test_a_post_on_a_channel_the_check_did_not_judge_is_refused(tmp_path, db_path):
    """Checked for the website (where she may be named), posted in the yearbook (where she may not):
    the yearbook post was never judged, and a re-check judged by the check's channel never lists it."""
    db = open_db(db_path)
    _sync_yearbook(db, tmp_path, "Y", "1")
    photo = _png(tmp_path / "fair.png")
    assert Checker(db, channel="website").check_path(photo, "Tamsin Okafor at the fair").verdict == "pass"
    with pytest.raises(PostError, match="checked for website, not yearbook"):
        mark_posted(db, photo, "yearbook")
    mark_posted(db, photo, "website")  # where it was judged: fine


def test_a_post_is_marked_against_the_check_for_its_channel_not_the_latest_check(tmp_path, db_path):
    """Checked for the website (pass), then for the yearbook (block): the website post is still the
    website check's, and a restriction on the website later lists it with its post."""
    db = open_db(db_path)
    _sync_yearbook(db, tmp_path, "Y", "1")
    photo = _png(tmp_path / "fair.png")
    assert Checker(db, channel="website").check_path(photo, "Tamsin Okafor at the fair").verdict == "pass"
    assert Checker(db, channel="yearbook").check_path(photo, "Tamsin Okafor at the fair").verdict == "block"
    mark_posted(db, photo, "website", "2026-10-02")
    _sync_yearbook(db, tmp_path, "Y", "2", media="Y")
    [finding] = recheck(db, None).findings
    assert finding.status == "affected" and [p["channel"] for p in finding.posted] == ["website"]


def test_a_post_marked_after_checking_the_photo_again_without_its_caption_stays_with_the_caption(tmp_path, db_path):
    """A photo checked with its caption, then again without one (for a safe copy), then marked posted:
    the mark went to the caption-less check, and the caption that now names a restricted student was
    listed as 'not marked as posted' (the post was lost from the takedown list)."""
    db = open_db(db_path)
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor"), student("900011", "Leo", "Brandt")])
    photo = _png(tmp_path / "fair.png")
    assert Checker(db).check_path(photo, "Tamsin Okafor at the fair").verdict == "pass"
    assert Checker(db).check_path(photo).verdict == "pass"
    mark_posted(db, photo, "website", "2026-10-02")
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Y"), student("900011", "Leo", "Brandt")],
          tag="2")
    report = recheck(db, None)
    [finding] = report.findings
    assert finding.posted and finding.posted[0]["on"] == "2026-10-02"
    assert report.to_json()["take_down"] == 1


# -- names: a name-restricted student whose name changed since the check ------------------------

def test_a_caption_with_the_new_name_of_a_renamed_restricted_student_is_listed(tmp_path, db_path):
    """Name-restricted all along, but the caption has the name they have now (a surname changed, a
    new first name, at a later sync): the check could not find it then, and nothing about their
    consent changed, so they were not 'newly restricted' and the caption was never looked at again."""
    db = open_db(db_path)
    roster = [student("900010", "Tamsin", "Okafor", name="Y"), student("900012", "Alex", "Ortiz", name="Y"),
              student("900011", "Leo", "Brandt")]
    _sync(db, tmp_path, roster)
    pas, rel = _png(tmp_path / "relay.png", (1, 2, 3)), _png(tmp_path / "fair.png", (4, 5, 6))
    assert Checker(db).check_path(pas, "Priya Lindqvist wins the relay").verdict == "pass"
    _released(db, rel, "Tamsin Whitfield at the fair")  # first name only: a review, released
    _sync(db, tmp_path, [student("900010", "Tamsin", "Whitfield", name="Y"),
                         student("900012", "Priya", "Lindqvist", name="Y"), roster[2]], tag="2")
    report = recheck(db, None)
    assert {f.path: [(n.student_number, n.scope) for n in f.new] for f in report.findings} == {
        str(rel): [("900010", "name"), ("900012", "name")], str(pas): [("900010", "name"), ("900012", "name")]}
    for finding in report.findings:
        assert finding.status == "affected" and finding.verdict == "block"
        assert "was Tamsin Okafor" in finding.new[0].why
    assert any("Whitfield" in b for f in report.findings for b in f.because)
    assert any("Lindqvist" in b for f in report.findings for b in f.because)


def test_a_renamed_student_who_is_not_named_is_not_listed(tmp_path, db_path):
    db = open_db(db_path)
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Y"), student("900011", "Leo", "Brandt")])
    photo = _png(tmp_path / "relay.png")
    assert Checker(db).check_path(photo, "Leo Brandt wins the relay").verdict == "pass"
    _sync(db, tmp_path, [student("900010", "Tamsin", "Whitfield", name="Y"), student("900011", "Leo", "Brandt")],
          tag="2")
    report = recheck(db, None)
    assert report.findings == [] and report.rechecked == 1


# -- faces: a better portrait of a student restricted all along -------------------------------

def test_a_photo_of_a_restricted_student_recognisable_only_with_a_newer_portrait_is_listed(faces, tmp_path, db_path):
    """Photo-restricted all along, but the portrait on file was someone else's (a mix-up, or a
    child's portrait from years ago): the photo passed. The next sync brings the right portrait; the
    re-check looked only at the first portrait's sync, so the photo was never looked at again."""
    portraits = tmp_path / "portraits"
    portraits.mkdir()
    shutil.copy(faces.stranger, portraits / f"{R}.jpg")
    db = open_db(db_path)
    _sync(db, tmp_path, [student(R, "Marcus", "Ellery", photo="Y")], portraits)
    photo = tmp_path / "r.jpg"
    shutil.copy(faces.restricted_other, photo)
    assert Checker(db).check_path(photo).verdict == "pass"
    mark_posted(db, photo, "website")
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    _sync(db, tmp_path, [student(R, "Marcus", "Ellery", photo="Y")], portraits, tag="2")
    [finding] = recheck(db, None).findings
    assert finding.status == "affected" and finding.verdict == "block"
    assert finding.new[0].scope == "photo" and "portrait" in finding.new[0].why


# -- the nightly job ------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_nightly_job_fails_when_the_recheck_cannot_run(tmp_path):
    """The folder of published photos is not mounted tonight: 'recheck --search' refuses to start
    (exit 2). The job said so on stderr but exited 0, so a monitor saw a good night."""
    env = {**os.environ, "CONSENTGUARD_EXPORT": str(write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee")])),
           "CONSENTGUARD_DB": str(tmp_path / "cg.db"), "CONSENTGUARD_LOG": str(tmp_path / "sync.log"),
           "CONSENTGUARD_BIN": str(Path(sys.executable).parent / "consentguard"),
           "CONSENTGUARD_SEARCH": str(tmp_path / "not-mounted")}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "nightly-sync")], env=env, capture_output=True, text=True)
    assert done.returncode == 5, (done.returncode, done.stderr)
    assert "re-check FAILED" in done.stderr


# -- the quick re-check: stored boxes in the pixels it encodes ------------------------------------

def test_the_quick_recheck_finds_a_face_in_an_exif_rotated_and_in_an_upside_down_photo(faces, tmp_path, db_path):
    """The quick re-check encodes the faces again from the boxes the check stored: a phone photo
    stored sideways with an EXIF orientation, and a photo upside down (a face found turned), must be
    encoded in the same pixels and the same turn as the check found them, or a restricted student's
    face is encoded wrong and nobody is 'near': cleared without a full check."""
    portraits = tmp_path / "portraits"
    portraits.mkdir()
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    shutil.copy(faces.stranger, portraits / "900009.jpg")
    db = open_db(db_path)
    held = student("900009", "Ines", "Marlow", photo="Y")  # restricted from the start: faces were judged
    _sync(db, tmp_path, [student(R, "Marcus", "Ellery"), held], portraits)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90° clockwise
    photos = {}
    for who, source in (("r", faces.restricted_other), ("c", faces.clear_other)):
        upright = Image.open(source).convert("RGB")
        photos[who] = (tmp_path / f"{who}-sideways.jpg", tmp_path / f"{who}-flipped.jpg")
        upright.transpose(Image.Transpose.ROTATE_90).save(photos[who][0], quality=95, exif=exif)
        upright.transpose(Image.Transpose.ROTATE_180).save(photos[who][1], quality=95)
    for photo in (*photos["r"], *photos["c"]):
        result = Checker(db).check_path(photo)
        assert result.verdict == "pass" and result.to_json()["faces"], photo
    assert {f["rotation"] for p in photos["r"] for f in [Checker(db, record=False).check_path(p).to_json()["faces"][0]]} \
        >= {180}
    _sync(db, tmp_path, [student(R, "Marcus", "Ellery", photo="Y"), held], portraits, tag="2")
    report = recheck(db, None)
    assert {f.path: f.verdict for f in report.findings} == {str(p): "block" for p in photos["r"]}
    assert report.quick == 2  # the clear ones: cleared by the quick re-check (used, and exact)


# -- faces that could not be judged, passed while nobody could be in the photo ----------------------

def test_a_blurred_face_passed_while_nobody_was_photo_restricted_is_listed_when_someone_becomes_so(
        faces, tmp_path, db_path):
    """With no photo-restricted student, a face too blurred to identify passes (nobody it could be).
    Once a student is photo-restricted, the same face is a review: it could be them. The quick
    re-check encoded it, found nobody near and cleared it; a full re-check dropped the review because
    it names no student. Listed now, as a review; a sharp clear face is still not listed."""
    from PIL import ImageFilter

    portraits = tmp_path / "portraits"
    portraits.mkdir()
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    db = open_db(db_path)
    roster = [student(R, "Marcus", "Ellery"), student("900002", "Jordan", "Whitfield")]
    _sync(db, tmp_path, roster, portraits)
    source = Image.open(faces.clear_portrait).convert("RGB")
    blurred, sharp = tmp_path / "blurred.jpg", tmp_path / "sharp.jpg"
    source.filter(ImageFilter.GaussianBlur(max(4, source.width // 140))).save(blurred, quality=95)
    shutil.copy(faces.clear_other, sharp)
    for photo in (blurred, sharp):
        assert Checker(db).check_path(photo).verdict == "pass"
    _sync(db, tmp_path, [student(R, "Marcus", "Ellery", photo="Y"), roster[1]], portraits, tag="2")
    assert Checker(db, record=False).check_path(blurred).verdict == "review"  # what a check says today
    report = recheck(db, None)
    [finding] = report.findings
    assert finding.path == str(blurred) and finding.status == "affected" and finding.verdict == "review"
    assert any("too blurred" in b and "Marcus Ellery" in b for b in finding.because), finding.because
    # the sharp one is checked in full (the quick re-check cannot tell a face that was unjudgeable
    # then: nothing about its quality was stored) and not listed
    assert report.rechecked == 2 and report.quick == 0


# -- text that says a newly photo-restricted student is shown ---------------------------------------

def test_text_naming_a_newly_photo_restricted_student_as_shown_is_listed(faces, tmp_path, db_path):
    """A photo-restricted student is looked for in the text that says who is shown: the people-shown
    metadata (a block) and their full name read in the photo (a certificate: a review). The quick
    re-check looked at faces only (a photo without a face was cleared at once), and a full re-check
    kept only hits of name-restricted students: both dropped them."""
    from PIL import ImageDraw, ImageFont
    from PIL.PngImagePlugin import PngInfo

    from tests.helpers.metadata import xmp

    portraits = tmp_path / "portraits"
    portraits.mkdir()
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    shutil.copy(faces.stranger, portraits / "900009.jpg")
    db = open_db(db_path)
    held = student("900009", "Ines", "Marlow", photo="Y")  # restricted from the start: faces were judged
    _sync(db, tmp_path, [student(R, "Marcus", "Ellery"), held], portraits)
    tagged, certificate = tmp_path / "tagged.png", tmp_path / "certificate.png"
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp(people=["Marcus Ellery"]).decode())
    Image.new("RGB", (60, 60), "white").save(tagged, pnginfo=info)
    image = Image.new("RGB", (900, 300), "white")
    ImageDraw.Draw(image).text((40, 110), "Marcus Ellery", fill="black", font=ImageFont.truetype("DejaVuSans.ttf", 64))
    image.save(certificate)
    for photo in (tagged, certificate):
        assert Checker(db).check_path(photo).verdict == "pass"
    _sync(db, tmp_path, [student(R, "Marcus", "Ellery", photo="Y"), held], portraits, tag="2")
    report = recheck(db, None)
    assert {f.path: f.verdict for f in report.findings} == {str(tagged): "block", str(certificate): "review"}
    assert all(any("Marcus Ellery" in b for b in f.because) for f in report.findings)


# -- where the file is: a check or scan run with a relative path ----------------------------------

def test_a_photo_checked_or_scanned_by_a_relative_path_is_found_by_a_recheck_run_elsewhere(tmp_path, db_path,
                                                                                          monkeypatch):
    """Staff check 'fair.png' and scan 'photos' from the folder they are in; the nightly job runs the
    re-check from another folder. The stored paths were relative, so every such photo was listed as
    'cannot re-check: file missing' (a false alarm every night) and never actually re-checked."""
    from consentguard.runners.scan import run_scan

    db = open_db(db_path)
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor"), student("900011", "Leo", "Brandt")])
    work = tmp_path / "work"
    (work / "photos").mkdir(parents=True)
    _png(work / "fair.png")
    _png(work / "photos" / "Tamsin Okafor.png", (9, 9, 9))
    monkeypatch.chdir(work)
    assert Checker(db).check_path("fair.png", "Tamsin Okafor at the fair").verdict == "pass"
    assert [r.verdict for r in run_scan(db, str(db_path), Path("photos"), workers=1).results] == ["pass"]
    monkeypatch.chdir(tmp_path)
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Y"), student("900011", "Leo", "Brandt")],
          tag="2")
    report = recheck(db, None)
    assert sorted((f.status, f.path) for f in report.findings) == [
        ("affected", str(work / "fair.png")), ("affected", str(work / "photos" / "Tamsin Okafor.png"))]


# -- the day a check was made ---------------------------------------------------------------------

def test_a_release_that_ended_is_judged_by_the_local_day_the_check_was_made(tmp_path, db_path, monkeypatch):
    """A district in Chicago checks a caption at 8 pm on the last day of a release (still valid that
    day: the checker judges by the local date). The audit stamp is UTC, already the next day; the
    re-check took that day for the check's, found the release already ended then ('restricted then')
    and never listed the caption."""
    import json
    import time
    from datetime import date, datetime, timedelta, timezone

    monkeypatch.setenv("TZ", "America/Chicago")
    time.tzset()
    try:
        (tmp_path / "m.toml").write_text('name = "releases"\npolicy = "opt-in"\n[columns]\nstudent_number = "ID"\n'
                                         'first_name = "First"\nlast_name = "Last"\n[[consent]]\ncolumn = "Release"\n'
                                         'meaning = "permission"\nexpires_column = "Until"\n')
        last_day = date.today() - timedelta(days=10)
        (tmp_path / "e.csv").write_text(f"ID,First,Last,Release,Until\n1,Ann,Lee,Yes,{last_day.isoformat()}\n")
        db = open_db(db_path)
        sync_roster(db, tmp_path / "e.csv", mapping=load_mapping(tmp_path / "m.toml"))
        photo = _png(tmp_path / "p.png")
        doc = Checker(db, record=False).check_path(photo, "Ann Lee wins the relay").to_json()
        evening = datetime(last_day.year, last_day.month, last_day.day, 20, 0).astimezone()  # 8 pm, Chicago
        stamp = evening.astimezone(timezone.utc).isoformat(timespec="seconds")
        assert stamp[:10] != last_day.isoformat()  # UTC: already the next day
        audit.record_event(db, {"checked_at": stamp, "os_user": "staff", "interface": "cli", "file_name": "p.png",
                                "sha256": doc["sha256"], "verdict": "pass", "reasons": "[]", "student_numbers": "[]",
                                "sync_id": doc["roster_sync_id"], "result": json.dumps({**doc, "verdict": "pass"})})
        report = recheck(db, None)
        assert [f.status for f in report.findings] == ["affected"]
        assert {n.why for n in report.findings[0].new} == {"name release ended since the check",
                                                            "photo release ended since the check"}
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_people_shown_metadata_with_the_new_name_of_a_renamed_photo_restricted_student_is_listed(
        faces, tmp_path, db_path):
    """The photo's people-shown field has the name a photo-restricted student has now (renamed at a
    later sync): the check looked for the old name. Not a consent change, so never looked at again."""
    from PIL.PngImagePlugin import PngInfo

    from tests.helpers.metadata import xmp

    db = open_db(db_path)
    _sync(db, tmp_path, [student(R, "Marcus", "Ellery", photo="Y")])
    tagged = tmp_path / "tagged.png"
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp(people=["Tobias Okonkwo"]).decode())
    Image.new("RGB", (60, 60), "white").save(tagged, pnginfo=info)
    assert Checker(db).check_path(tagged).verdict == "pass"
    _sync(db, tmp_path, [student(R, "Tobias", "Okonkwo", photo="Y")], tag="2")
    [finding] = recheck(db, None).findings
    assert finding.path == str(tagged) and finding.verdict == "block"
    assert [(n.scope, "was Marcus Ellery" in n.why) for n in finding.new] == [("photo", True)]


# -- school-scoped checks ---------------------------------------------------------------------------

def test_a_blurred_face_checked_for_a_school_is_listed_when_a_restricted_student_moves_there(
        faces, tmp_path, db_path):
    """Checked for school 1201, where nobody was photo-restricted: a face too blurred to judge passed.
    A photo-restricted student of school 1202 moves to 1201: the face could be them. Their consent
    did not change, so they were not 'newly restricted' and the photo was never looked at again."""
    from PIL import ImageFilter

    db = open_db(db_path)
    mover, other = student(R, "Marcus", "Ellery", photo="Y", SchoolID="1202"), student("900002", "Jordan", "Whitfield")
    _sync(db, tmp_path, [mover, other])
    source = Image.open(faces.clear_portrait).convert("RGB")
    blurred = tmp_path / "blurred.jpg"
    source.filter(ImageFilter.GaussianBlur(max(4, source.width // 140))).save(blurred, quality=95)
    assert Checker(db, school="1201").check_path(blurred).verdict == "pass"
    _sync(db, tmp_path, [{**mover, "SchoolID": "1201"}, other], tag="2")
    [finding] = recheck(db, None).findings
    assert finding.path == str(blurred) and finding.verdict == "review"
    assert "moved to school 1201" in finding.new[0].why
    assert any("too blurred" in b for b in finding.because)


# -- a face as near to a student restricted before as to one restricted since --------------------

def test_a_released_twin_is_listed_when_the_other_twin_becomes_photo_restricted(faces, tmp_path, db_path):
    """Twins: one photo-restricted from the start, the other not. A photo of one matched both
    ('ambiguous'), and staff released it as the permitted twin. When that twin is restricted too,
    the face blocks as the twin restricted before (nearest by a hair), who is not new: the re-check
    kept only faces attributed to a newly restricted student and dropped it."""
    portraits = tmp_path / "portraits"
    portraits.mkdir()
    shutil.copy(faces.restricted_portrait, portraits / "900001.jpg")
    shutil.copy(faces.restricted_portrait, portraits / "900005.jpg")
    db = open_db(db_path)
    twin = student("900005", "Mara", "Ellery")

    def sync(rows, tag):
        sync_roster(db, write_export(tmp_path / f"t{tag}.csv", rows), portraits, index_policy="all")

    sync([student("900001", "Marcus", "Ellery", photo="Y"), twin], "1")
    photo = tmp_path / "twin.jpg"
    shutil.copy(faces.restricted_other, photo)
    result = _released(db, photo, None)
    assert result.verdict == "review" and "ambiguous" in result.decision.reasons[0]
    sync([student("900001", "Marcus", "Ellery", photo="Y"), {**twin, "Photo_Opt_Out": "Y"}], "2")
    [finding] = recheck(db, None).findings
    assert finding.path == str(photo) and finding.verdict == "block"
    assert [n.student_number for n in finding.new] == ["900005"]
    assert any("Mara Ellery" in b for b in finding.because), finding.because


def test_a_restriction_on_some_channels_says_which_for_a_check_made_for_every_channel(tmp_path, db_path):
    """Checked without a channel (for every channel) and posted on the website; the student is then
    name-restricted in the yearbook only. Listed (it may be in the yearbook: posts are marked only
    when staff mark them), but the reason said nothing of the channel, so the website post looked
    like one to take down."""
    db = open_db(db_path)
    _sync_yearbook(db, tmp_path, "", "1")
    photo = _png(tmp_path / "fair.png")
    assert Checker(db).check_path(photo, "Tamsin Okafor at the fair").verdict == "pass"
    mark_posted(db, photo, "website")
    _sync_yearbook(db, tmp_path, "Y", "2")
    [finding] = recheck(db, None).findings
    assert [n.why for n in finding.new] == ["name-restricted since the check (on yearbook only)"]


# -- tried and safe: kept as guards ---------------------------------------------------------------

def test_a_restriction_restored_by_a_rollback_is_new_for_a_check_made_while_it_was_lifted(tmp_path, db_path):
    """A sync that lifted her restriction by mistake, a caption passed while it was in force, and a
    rollback to the sync before: the roster at the check's sync is rebuilt through the rollback's
    own change rows, so she is newly restricted for that check."""
    from consentguard.roster.history import rollback

    db = open_db(db_path)
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Y"), student("900011", "Leo", "Brandt")])
    sync_roster(db, write_export(tmp_path / "e2.csv", [student("900010", "Tamsin", "Okafor"),
                                                       student("900011", "Leo", "Brandt")]), accept_drop=True)
    photo = _png(tmp_path / "fair.png")
    assert Checker(db).check_path(photo, "Tamsin Okafor at the fair").verdict == "pass"
    rollback(db, 1)
    [finding] = recheck(db, None).findings
    assert finding.status == "affected" and finding.new[0].why == "name-restricted since the check"


def test_a_check_recorded_before_captions_were_stored_is_still_rechecked(tmp_path, db_path):
    """A check from before this change has no caption (only the caption with the names restricted
    then taken out), no detector version and no absolute path: its caption is still searched for the
    students restricted since, and its photo checked in full."""

    db = open_db(db_path)
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor"), student("900011", "Leo", "Brandt")])
    photo = _png(tmp_path / "fair.png")
    doc = Checker(db, record=False).check_path(photo, "Tamsin Okafor at the fair").to_json()
    legacy = {k: v for k, v in doc.items() if k not in ("caption", "location")}
    legacy["thresholds"] = {k: v for k, v in doc["thresholds"].items() if k != "detector"}
    audit.record_doc(db, legacy, "cli")
    _sync(db, tmp_path, [student("900010", "Tamsin", "Okafor", name="Y"), student("900011", "Leo", "Brandt")],
          tag="2")
    [finding] = recheck(db, None).findings
    assert finding.status == "affected" and finding.verdict == "block"
