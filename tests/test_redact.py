"""Safe copies: restricted faces no longer match, no metadata survives (CLI and library)."""

import shutil

import pytest
from click.testing import CliRunner
from PIL import Image

from consentguard import Checker, open_db
from consentguard.cli import cli
from consentguard.inspect.metadata import read_metadata

from conftest import R
from helpers.metadata import exif, iptc_segment, save_jpeg, xmp

pytestmark = pytest.mark.faces


def test_redact_hides_the_restricted_face_and_strips_metadata(face_roster, faces, tmp_path):
    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    photo = Image.open(faces.group)
    gps = exif(description="Marcus at the fair")
    gps.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPS latitude
    save_jpeg(photo, tmp_path / "group.jpg", exif_data=gps, iptc=iptc_segment(caption="Field day"),
              xmp_data=xmp(description="Field day"))
    checker = Checker(open_db(db), record=False)
    before = checker.check_path(tmp_path / "group.jpg")
    assert before.verdict == "block" and R in before.decision.student_numbers

    r = CliRunner().invoke(cli, ["redact", str(tmp_path / "group.jpg"), "--out", str(tmp_path / "safe.jpg"),
                                 "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("BLOCK ") and "all metadata removed" in r.output

    after = checker.check_path(tmp_path / "safe.jpg")
    assert R not in after.decision.student_numbers  # the restricted face no longer matches
    assert all(f.student_number != R for f in after.decision.faces)
    with Image.open(tmp_path / "safe.jpg") as im:
        assert read_metadata(im) == [] and len(im.getexif()) == 0
        assert not {"exif", "xmp", "icc_profile", "photoshop", "comment"} & set(im.info)
        assert im.size == photo.size
    # the faces that passed are untouched
    def centre(box):
        return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2

    kept = [centre(f.box) for f in before.decision.faces if f.verdict == "pass"]
    found = [centre(f.box) for f in after.decision.faces]
    assert kept and all(any(abs(x - u) < 10 and abs(y - v) < 10 for u, v in found) for x, y in kept)


def test_redact_refuses_unknown_output_format(face_roster, faces, tmp_path):
    r = CliRunner().invoke(cli, ["redact", str(faces.group), "--out", str(tmp_path / "safe.gif"),
                                 "--db", str(face_roster)])
    assert r.exit_code == 1
    assert r.output.endswith("safe.gif: cannot write a safe copy with this extension; use .jpg, .png or .webp\n")
