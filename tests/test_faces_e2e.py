"""End to end on real faces: sync portraits, then check real photos.

R (photo-restricted) and C (clear) are obama and biden from ../shared/faces,
or the PyPI sdist's photos where that folder is missing (see conftest).
"""

import json
import shutil

import pytest

from consentguard import Checker, open_db

from conftest import R
from helpers.photos import distant

pytestmark = pytest.mark.faces


@pytest.fixture(scope="module")
def checker(face_roster):
    return Checker(open_db(face_roster))


def test_group_photo_blocks_on_restricted_face(checker, faces):
    result = checker.check_path(faces.group)
    assert result.verdict == "block"
    blocked = [f for f in result.decision.faces if f.verdict == "block"]
    assert len(blocked) == 1 and blocked[0].student_number == R
    left, _, right, _ = blocked[0].box
    assert faces.restricted_x[0] <= (left + right) / 2 <= faces.restricted_x[1]
    assert blocked[0].distance <= 0.50
    assert any("Marcus Ellery (#900001)" in r for r in result.reasons)
    others = [f for f in result.decision.faces if f is not blocked[0]]
    assert others and all(f.verdict == "pass" for f in others)


def test_other_photo_of_restricted_student_blocks(checker, faces):
    assert checker.check_path(faces.restricted_other).verdict == "block"


def test_other_photo_of_clear_student_passes(checker, faces):
    result = checker.check_path(faces.clear_other)
    assert result.verdict == "pass", result.reasons
    assert len(result.decision.faces) == 1


def test_stranger_passes(checker, faces):
    result = checker.check_path(faces.stranger)
    assert result.verdict == "pass", result.reasons
    assert result.decision.faces[0].distance > 0.6


def test_caption_with_restricted_name_blocks(checker, faces):
    result = checker.check_path(faces.clear_other, caption="Well done Priya Natarajan!")
    assert result.verdict == "block"
    assert result.decision.names[0].student_number == "900003"


def test_zero_byte_file_is_error(checker, tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    result = checker.check_path(tmp_path / "empty.jpg")
    assert result.verdict == "error"
    assert result.reasons == [f"{tmp_path / 'empty.jpg'}: empty file (0 bytes)"]


def test_truncated_photo_is_error(checker, faces, tmp_path):
    data = faces.restricted_other.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    assert checker.check_path(tmp_path / "cut.jpg").verdict == "error"


def test_rotated_photo_still_blocks(checker, faces, tmp_path):
    """A phone photo stored sideways with an EXIF orientation tag."""
    from PIL import Image, ImageOps

    upright = ImageOps.exif_transpose(Image.open(faces.restricted_other)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # viewer rotates 90° clockwise to display
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "sideways.jpg", exif=exif, quality=92)
    assert checker.check_path(tmp_path / "sideways.jpg").verdict == "block"


def test_small_face_of_someone_else_goes_to_review(checker, faces, tmp_path):
    result = checker.check_path(distant(faces.clear_other, 40, tmp_path, "distant.jpg"))
    assert result.verdict == "review"
    assert len(result.decision.faces) == 1 and result.decision.faces[0].box[2] - result.decision.faces[0].box[0] < 60
    assert "too small to identify (minimum 60 px)" in result.reasons[0]


def test_small_face_of_restricted_student_still_blocks(checker, faces, tmp_path):
    result = checker.check_path(distant(faces.restricted_other, 40, tmp_path, "distant.jpg"))
    assert result.verdict == "block", result.reasons


def test_blurred_face_never_passes(checker, faces, tmp_path):
    from PIL import Image, ImageFilter
    Image.open(faces.clear_other).filter(ImageFilter.GaussianBlur(12)).save(tmp_path / "blur.jpg")
    result = checker.check_path(tmp_path / "blur.jpg")
    if result.decision.faces:  # still detected: it must not pass
        assert result.verdict == "review" and "too blurred to identify" in result.reasons[0]


def test_checks_are_recorded(face_roster, faces):
    db = open_db(face_roster)
    Checker(db).check_path(faces.group)
    row = list(db.query("SELECT * FROM checks ORDER BY id DESC LIMIT 1"))[0]
    assert row["verdict"] == "block" and row["file_name"] == faces.group.name
    assert row["student_numbers"] == '["900001"]' and row["sync_id"] == 1
    assert len(row["sha256"]) == 64 and row["os_user"] and row["interface"] == "cli"


def test_thorough_mode_finds_distant_face(face_roster, faces, tmp_path):
    """A 12 MP-class wide shot with the restricted student's face 40 px wide."""
    from PIL import Image, ImageOps

    from consentguard import Policy
    from consentguard.inspect.faces import detect_faces
    from consentguard.inspect.image import load_image

    photo = ImageOps.exif_transpose(Image.open(faces.restricted_other)).convert("RGB")
    face = max(detect_faces(load_image(faces.restricted_other).rgb), key=lambda f: f.width)
    scale = 40 / face.width
    photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.LANCZOS)
    scene = Image.new("RGB", (2600, 1300), (104, 142, 88))  # 3.4 MP: above the always-x2 size
    scene.paste(photo, (1200, 500))
    scene.save(tmp_path / "wide.jpg", quality=92)
    db = open_db(face_roster)
    thorough = Checker(db, Policy(detect_mode="thorough")).check_path(tmp_path / "wide.jpg")
    assert thorough.verdict == "block"
    assert [f.student_number for f in thorough.decision.faces if f.verdict == "block"] == [R]


def test_index_all_recognises_permitted_students(tmp_path, faces):
    """Index policy 'all': the clear student's encodings are stored and recognised."""
    from consentguard import sync_roster

    from conftest import C, student, write_export

    portraits = tmp_path / "portraits"
    portraits.mkdir()
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    shutil.copy(faces.clear_portrait, portraits / f"{C}.jpg")
    export = write_export(tmp_path / "e.csv", [student(R, "Marcus", "Ellery", photo="Y"), student(C, "Jordan", "Whitfield")])
    db = open_db(tmp_path / "all.db")
    assert sync_roster(db, export, portraits, index_policy="all").portraits_encoded == 2
    checker = Checker(db)
    assert checker.index_policy == "all" and len(checker.index.owners) == 2
    group = checker.check_path(faces.group)
    assert group.verdict == "block"
    clear = checker.check_path(faces.clear_other)
    assert clear.verdict == "pass" and clear.reasons == []
    assert "recognised as permitted Jordan Whitfield (#900002)" in clear.decision.faces[0].reason
    # back to the privacy-preserving policy: Jordan's encoding is deleted
    sync_roster(db, export, portraits, index_policy="restricted")
    assert db.execute("SELECT count(*) FROM portraits WHERE encoding IS NOT NULL").fetchone()[0] == 1


def test_12_megapixel_photo_with_80px_face_blocks(checker, faces, tmp_path):
    path = distant(faces.restricted_other, 80, tmp_path, "big.jpg", canvas=(4000, 3000))
    result = checker.check_path(path)
    assert (result.width, result.height) == (4000, 3000)
    assert result.verdict == "block", result.reasons


@pytest.mark.parametrize("mode", ["CMYK", "L"])
def test_cmyk_and_grayscale_photos_still_block(checker, faces, tmp_path, mode):
    from PIL import Image
    Image.open(faces.group).convert(mode).save(tmp_path / "converted.jpg", quality=92)
    assert checker.check_path(tmp_path / "converted.jpg").verdict == "block"


def covered(photo, tmp_path, name):
    """The photo with the lower half of its largest face hidden, as by a hand or a mask."""
    from PIL import Image, ImageDraw, ImageOps

    from consentguard.inspect.faces import detect_faces
    from consentguard.inspect.image import load_image

    left, top, right, bottom = max(detect_faces(load_image(photo).rgb), key=lambda f: f.width).box
    im = ImageOps.exif_transpose(Image.open(photo)).convert("RGB")
    ImageDraw.Draw(im).rectangle((left, top + (bottom - top) // 2, right, bottom + (bottom - top) // 3),
                                 fill=(200, 170, 150))
    im.save(tmp_path / name, quality=92)
    return tmp_path / name


def test_partly_covered_face_is_found_and_never_passes(checker, faces, tmp_path):
    """dlib's HOG detector misses a face half hidden by a hand; CenterFace finds it; it goes to review."""
    result = checker.check_path(covered(faces.clear_other, tmp_path, "covered.jpg"))
    assert result.verdict == "review", result.reasons
    assert any("partly covered" in r for r in result.reasons)
    assert checker.check_path(covered(faces.restricted_other, tmp_path, "covered_r.jpg")).verdict != "pass"


def test_large_photo_is_searched_in_tiles(face_roster, faces, tmp_path):
    """24 MP in the thorough mode: the detector's input is tiled; a face on a tile seam is found once."""
    from PIL import Image, ImageOps

    from consentguard import Policy
    from consentguard.inspect.faces import MAX_PROPOSAL_PIXELS, TILE, detect_faces, proposal_scale
    from consentguard.inspect.image import load_image

    width, height = 6000, 4000
    scale = proposal_scale(width, height, "thorough")
    assert width * height * scale ** 2 > MAX_PROPOSAL_PIXELS  # this photo does take the tiled path
    photo = ImageOps.exif_transpose(Image.open(faces.restricted_other)).convert("RGB")
    face = max(detect_faces(load_image(faces.restricted_other).rgb), key=lambda f: f.width)
    k = 120 / face.width
    photo = photo.resize((round(photo.width * k), round(photo.height * k)), Image.LANCZOS)
    scene = Image.new("RGB", (width, height), (104, 142, 88))
    seam = round(TILE / scale)  # where the first tile ends, in photo pixels
    centre = (round((face.box[0] + face.box[2]) / 2 * k), round((face.box[1] + face.box[3]) / 2 * k))
    scene.paste(photo, (seam - centre[0], 2000 - centre[1]))
    scene.save(tmp_path / "big.jpg", quality=90)
    result = Checker(open_db(face_roster), Policy(detect_mode="thorough")).check_path(tmp_path / "big.jpg")
    blocked = [f for f in result.decision.faces if f.verdict == "block"]
    assert result.verdict == "block" and len(blocked) == 1 and blocked[0].student_number == R
    assert blocked[0].box[0] < seam < blocked[0].box[2]


def test_school_decides_whether_an_unjudgeable_face_needs_review(faces, tmp_path):
    """A face too small to judge: review in a school with photo-restricted students, pass in one without."""
    from click.testing import CliRunner

    from consentguard import sync_roster
    from consentguard.cli import cli

    from conftest import C, student, write_export

    portraits = tmp_path / "portraits"
    portraits.mkdir()
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    export = write_export(tmp_path / "e.csv", [student(R, "Marcus", "Ellery", photo="Y", SchoolID="1201"),
                                               student(C, "Jordan", "Whitfield", SchoolID="1202")])
    db = tmp_path / "cg.db"
    sync_roster(open_db(db), export, portraits)
    photo = str(distant(faces.clear_other, 40, tmp_path, "distant.jpg"))

    def verdict(*extra):
        r = CliRunner().invoke(cli, ["check", photo, "--json", "--db", str(db), *extra])
        return r.exit_code, (json.loads(r.output)["results"][0]["verdict"] if r.exit_code in (0, 3, 4) else r.output)

    assert verdict() == (3, "review")  # school unknown: the whole roster counts
    assert verdict("--school", "1201") == (3, "review")
    assert verdict("--school", "1202") == (0, "pass")
    assert verdict("--school", "9999") == (1, "Error: school '9999': no student of the roster in force belongs to it\n")


def _upright(path):
    from PIL import Image, ImageOps
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


@pytest.mark.parametrize("turn,words", [(180, "upside down"), (90, "turned 90° clockwise"),
                                        (270, "turned 90° anticlockwise")])
def test_turned_photo_of_restricted_student_blocks(checker, faces, tmp_path, turn, words):
    """Issue #10: a face upside down (monkey bars) or sideways passed; it is now found and blocks."""
    _upright(faces.restricted_other).rotate(-turn, expand=True).save(tmp_path / "turned.jpg", quality=92)
    result = checker.check_path(tmp_path / "turned.jpg")
    assert result.verdict == "block", result.reasons
    blocked = [f for f in result.decision.faces if f.verdict == "block"]
    assert [(f.student_number, f.rotation) for f in blocked] == [(R, turn)]
    assert blocked[0].distance <= 0.5
    assert f"({words}) matches photo-restricted Marcus Ellery (#900001)" in blocked[0].reason
    assert result.to_json()["faces"][0]["rotation"] == turn


def test_wrong_exif_orientation_that_turns_the_face_upside_down_blocks(checker, faces, tmp_path):
    """Orientation 4 (flip top to bottom) on an upright photo: shown upside down and mirrored."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 4
    _upright(faces.restricted_other).save(tmp_path / "flipped.jpg", exif=exif, quality=92)
    result = checker.check_path(tmp_path / "flipped.jpg")
    assert result.orientation == 4
    assert result.verdict == "block", result.reasons
    assert [f.rotation for f in result.decision.faces if f.verdict == "block"] == [180]


def test_upright_group_photo_gets_no_turned_duplicates(faces, monkeypatch):
    """The turned passes add nothing to an ordinary upright group photo."""
    from consentguard.inspect import faces as cgfaces
    from consentguard.inspect.image import load_image

    rgb = load_image(faces.group).rgb
    with_turns = cgfaces.detect_faces(rgb)
    monkeypatch.setattr(cgfaces, "ROTATIONS", ())
    upright_only = cgfaces.detect_faces(rgb)
    assert [(f.box, f.confirmed) for f in with_turns] == [(f.box, f.confirmed) for f in upright_only]
    assert all(f.rotation == 0 for f in with_turns)


def test_upside_down_face_in_a_12_megapixel_scene_blocks(checker, faces, tmp_path):
    """A child hanging upside down among upright people in a 12 MP photo, default mode."""
    from PIL import Image

    scene = Image.new("RGB", (4000, 3000), (104, 142, 88))
    x = 300
    for path, turn in [(faces.clear_other, 0), (faces.restricted_other, 180), (faces.stranger, 0)]:
        photo = _upright(path)
        photo.thumbnail((900, 900))
        scene.paste(photo.rotate(-turn, expand=True), (x, 1000))
        x += 1200
    scene.save(tmp_path / "playground.jpg", quality=92)
    result = checker.check_path(tmp_path / "playground.jpg")
    assert result.verdict == "block", result.reasons
    assert [(f.student_number, f.rotation) for f in result.decision.faces if f.verdict == "block"] == [(R, 180)]
    assert sorted(f.rotation for f in result.decision.faces) == [0, 0, 180]
