"""Issue #17: the result says what is wrong with the picture and with the caption apart
(`photo_verdict`, `caption_verdict`; `verdict` is the worse), so the page can show a caption's problem
on the caption instead of turning every photo of the post red."""

import pytest
from PIL import Image

from consentguard import Checker, open_db

pytestmark = pytest.mark.faces


def test_photo_and_caption_verdicts_apart(face_roster, faces, tmp_path):
    checker = Checker(open_db(face_roster), record=False)
    Image.new("RGB", (64, 64), "white").save(tmp_path / "plain.png")
    named = checker.check_path(tmp_path / "plain.png", "Well done Priya Natarajan!").to_json()
    assert (named["verdict"], named["photo_verdict"], named["caption_verdict"]) == ("block", "pass", "block")
    face = checker.check_path(faces.restricted_other, "Spring assembly").to_json()
    assert (face["verdict"], face["photo_verdict"], face["caption_verdict"]) == ("block", "block", "pass")
    both = checker.check_path(faces.restricted_other, "Priya Natarajan sings").to_json()
    assert (both["verdict"], both["photo_verdict"], both["caption_verdict"]) == ("block", "block", "block")
    Image.new("RGB", (64, 64), "white").save(tmp_path / "Priya Natarajan.png")  # a name in the file name: the photo's
    filed = checker.check_path(tmp_path / "Priya Natarajan.png").to_json()
    assert (filed["photo_verdict"], filed["caption_verdict"]) == ("block", "pass")
