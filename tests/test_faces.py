"""Face stage: detection modes, their scales, and the pure helpers of the detector."""

import numpy as np
import pytest

from consentguard.inspect.faces import MODES, TILE, TILE_OVERLAP, _nms, _tiles, derived_box, proposal_scale
from consentguard.policy import Policy


@pytest.mark.parametrize("size,mode,scale", [
    ((4000, 3000), "default", 0.25), ((4000, 3000), "thorough", 0.5),
    ((6000, 4000), "default", 0.25), ((1600, 1200), "default", 1.0), ((250, 250), "thorough", 1.0),
])
def test_proposal_scale(size, mode, scale):
    assert proposal_scale(*size, mode) == scale


def test_smallest_promised_face_is_16px_at_the_detector():
    for mode, smallest in MODES.items():
        assert smallest * proposal_scale(4000, 3000, mode) == 16


def test_unknown_mode():
    with pytest.raises(ValueError, match="unknown detection mode 'fast'"):
        proposal_scale(100, 100, "fast")
    with pytest.raises(ValueError, match="detect_mode must be 'default' or 'thorough'"):
        Policy(detect_mode="fast")
    assert set(MODES) == {"default", "thorough"}


@pytest.mark.parametrize("length", [100, TILE, TILE + 1, 3000, 6001])
def test_tiles_cover_everything_with_overlap(length):
    starts = _tiles(length)
    assert starts[0] == 0 and starts[-1] + min(TILE, length) == length
    for a, b in zip(starts, starts[1:]):
        assert b - a <= TILE - TILE_OVERLAP  # every window of TILE_OVERLAP px lies in one tile


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10, 0.5], [1, 1, 11, 11, 0.9], [20, 20, 30, 30, 0.4]], float)
    kept = _nms(boxes, 0.3)
    assert kept[:, 4].tolist() == [0.9, 0.4]


def test_derived_box_is_a_square_slightly_larger_and_lower():
    left, top, right, bottom = derived_box((100, 100, 200, 228, 0.9))
    assert right - left == pytest.approx(bottom - top) == pytest.approx(110)
    assert (left + right) / 2 == pytest.approx(153) and (top + bottom) / 2 == pytest.approx(169.12)


def test_a_face_is_not_lost_when_dlib_confirms_its_neighbour_instead():
    """Two overlapping faces: dlib, run on B's crop, returns A's box. B keeps a derived box."""
    from consentguard.inspect.faces import place_faces

    a, b = (100, 100, 200, 228, 0.9), (160, 100, 260, 228, 0.8)
    a_box = (95, 110, 205, 220)
    faces = place_faces(np.array([a, b]), [(a_box, 1.0), (a_box, 0.4)], 1000, 1000)
    assert [f.box for f in faces] == [a_box, (158, 114, 268, 224)]
    assert [f.confirmed for f in faces] == [True, False]


def test_a_second_proposal_for_one_face_is_dropped():
    from consentguard.inspect.faces import place_faces

    a = (100, 100, 200, 228, 0.9)
    twin = (102, 101, 202, 229, 0.5)
    faces = place_faces(np.array([a, twin]), [((95, 110, 205, 220), 1.0), ((96, 110, 206, 221), 0.9)], 1000, 1000)
    assert len(faces) == 1


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_rotate_box_follows_np_rot90(k):
    """A box moves with the pixels it covers when the image is turned, and comes back."""
    from consentguard.inspect.faces import rotate_box, unrotate_box

    image = np.zeros((30, 50), np.uint8)
    image[4:10, 20:35] = 1  # rows 4-9, columns 20-34: the box (20, 4, 35, 10)
    turned = np.rot90(image, k)
    rows, cols = np.nonzero(turned)
    assert rotate_box((20, 4, 35, 10), k, 50, 30) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    assert unrotate_box(rotate_box((20, 4, 35, 10), k, 50, 30), k, 50, 30) == (20, 4, 35, 10)


@pytest.mark.parametrize("size,mode,scale", [
    ((4000, 3000), "default", 0.1), ((4000, 3000), "thorough", 0.5), ((250, 250), "default", 1.0),
])
def test_turned_passes_look_for_larger_faces_in_the_default_mode(size, mode, scale):
    from consentguard.inspect.faces import rotated_scale

    assert rotated_scale(*size, mode) == pytest.approx(scale)


def test_turned_faces_join_the_upright_ones_once():
    """Turned proposals: one on a confirmed upright face is not added again; an unconfirmed one
    needs ROTATED_SCORE; one dlib confirms turned replaces an upright face it did not confirm,
    or confirmed with a lower HOG score (dlib weakly confirms some upside-down faces upright)."""
    from consentguard.inspect.faces import ROTATED_SCORE, Face, add_rotated

    upright = [Face(box=(100, 100, 200, 200), score=0.95, hog_score=1.8),
               Face(box=(400, 100, 500, 200), score=0.5, confirmed=False),
               Face(box=(100, 600, 200, 700), score=0.9, hog_score=0.2)]
    proposals = np.array([
        [105, 95, 195, 210, 0.9, 1],                   # the first upright face seen sideways
        [395, 95, 505, 210, 0.7, 2],                   # the second, upside down, and dlib confirms it so
        [700, 100, 800, 220, 0.9, 2],                  # another upside-down face dlib does not confirm
        [700, 400, 800, 520, ROTATED_SCORE - 0.1, 3],  # a weak one nothing confirms: dropped
        [105, 595, 195, 710, 0.8, 2],                  # the third, which dlib is surer of upside down
    ])
    confirmations = [((98, 98, 198, 198), 0.3), ((402, 98, 498, 194), 1.2), None, None, ((102, 598, 198, 694), 1.6)]
    weak = add_rotated(upright[1:2], proposals[1:2], [((402, 98, 498, 194), 0.3)], 1000, 1000)
    assert [(f.rotation, f.confirmed) for f in weak] == [(0, False)]  # dlib barely sure turned: stays upright
    faces = add_rotated(upright, proposals, confirmations, 1000, 1000)
    assert [(f.box, f.rotation, f.confirmed) for f in faces] == [
        ((100, 100, 200, 200), 0, True), ((402, 98, 498, 194), 180, True), ((102, 598, 198, 694), 180, True),
        ((692, 100, 802, 210), 180, False)]  # derived box shifted towards the chin, which is up here


@pytest.mark.faces
def test_upside_down_face_dlib_also_confirms_upright_is_found_turned():
    """dlib's HOG detector confirms this LFW face upright when it is upside down (its encoding
    would then be noise); CenterFace scores it higher turned, so it is encoded turned."""
    from consentguard.inspect.faces import detect_faces
    from consentguard.inspect.image import load_image

    from conftest import SHARED_FACES

    path = SHARED_FACES / "lfw" / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg"
    if not path.is_file():
        pytest.skip("needs ../shared/faces/lfw")
    faces = detect_faces(np.ascontiguousarray(np.rot90(load_image(path).rgb, 2)))
    assert [(f.rotation, f.confirmed) for f in faces] == [(180, True)]


def test_a_turned_face_over_two_upright_ones_replaces_neither():
    """A confirmed turned box whose centre lies in one face and that holds another's centre would,
    replacing the first, lose a person: both upright faces are kept, and the turned one too."""
    from consentguard.inspect.faces import Face, add_rotated
    left, right = Face(box=(100, 100, 200, 200), confirmed=False), Face(box=(190, 100, 290, 200), confirmed=False)
    turned_box = (150, 120, 260, 230)  # centre (205, 175): inside `right`; holds `left`'s centre (150, 150)
    faces = add_rotated([left, right], [list(turned_box) + [0.95, 2]], [(turned_box, 2.0)], 1000, 1000)
    assert left in faces and right in faces and len(faces) == 3


@pytest.mark.parametrize("size,mode,widths,expected", [
    ((4000, 3000), "default", [300, 250], False),      # a close-up: faces far above the promise
    ((4000, 3000), "default", [300, 90], True),        # a face under 1.5x the promise: smaller ones likely
    ((4000, 3000), "default", [200] * 10, True),       # a crowd of large faces: small ones behind them likely
    ((4000, 3000), "default", [200] * 6, False),       # a close-up of three found six faces (bench_adaptive)
    ((4000, 3000), "default", [], False),
    ((4000, 3000), "thorough", [40, 40], False),       # already searched as closely as it can be
    ((1600, 1200), "default", [40, 40], False),        # small photos are searched at full size anyway
])
def test_wide_shot_trigger(size, mode, widths, expected):
    from consentguard.inspect.faces import Face, wide_shot

    faces = [Face(box=(10 * i, 0, 10 * i + w, w)) for i, w in enumerate(widths)]
    assert wide_shot(faces, *size, mode) is expected


def _face_crop(path):
    """The photo's largest face with a margin around it, and that face's width in the crop."""
    from PIL import Image

    from consentguard.inspect.faces import detect_faces
    from consentguard.inspect.image import load_image

    rgb = load_image(path).rgb
    left, top, right, bottom = max(detect_faces(rgb), key=lambda f: f.width).box
    margin = (right - left) // 2
    crop = Image.fromarray(rgb).crop((left - margin, top - margin, right + margin, bottom + margin))
    return crop, right - left


def _scene(faces, widths, size=(4000, 3000)):
    """A 12 MP photo (blurred noise) with real faces pasted at ``widths``; their boxes."""
    from PIL import Image, ImageFilter

    noise = np.random.default_rng(12).integers(60, 200, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    photo = Image.fromarray(noise).resize(size, Image.BILINEAR).filter(ImageFilter.GaussianBlur(3))
    sources = [_face_crop(p) for p in (faces.restricted_portrait, faces.clear_portrait, faces.restricted_other,
                                       faces.clear_other, faces.stranger)]
    boxes, x, y = [], 200, 300
    for i, width in enumerate(widths):
        crop, face_width = sources[i % len(sources)]
        k = width / face_width
        small = crop.resize((round(crop.width * k), round(crop.height * k)), Image.LANCZOS)
        if x + small.width > size[0] - 200:
            x, y = 200, y + 700
        photo.paste(small, (x, y))
        boxes.append((x + small.width // 4, y + small.height // 4, x + 3 * small.width // 4, y + 3 * small.height // 4))
        x += small.width + 400
    return np.asarray(photo), boxes


def _found(found, box):
    return sum(box[0] <= (f.box[0] + f.box[2]) / 2 <= box[2] and box[1] <= (f.box[1] + f.box[3]) / 2 <= box[3]
               for f in found)


def _first_search_only(monkeypatch):
    import consentguard.inspect.faces as cgfaces
    monkeypatch.setattr(cgfaces, "WIDE_SHOT_WIDTH", 0.0)
    monkeypatch.setattr(cgfaces, "WIDE_SHOT_FACES", float("inf"))


@pytest.mark.faces
def test_a_wide_shot_is_searched_again_for_faces_under_the_promise(faces, monkeypatch):
    """Issue #12: a 12 MP wide shot with faces of 40 px (under the default mode's 64) was checked
    from the faces the default search found; one face of 80 px now has it searched again as the
    thorough mode does, which finds the small ones too, each once, and encodes each once."""
    from consentguard.inspect.faces import find_and_encode

    rgb, boxes = _scene(faces, [80] + [40] * 6)
    with monkeypatch.context() as m:
        _first_search_only(m)
        before = find_and_encode(rgb)
    assert [_found(before, b) for b in boxes] == [1] + [0] * 6  # the 40 px faces were missed
    after = find_and_encode(rgb)
    assert [_found(after, b) for b in boxes] == [1] * 7
    assert all(f.encoding is not None for f in after)
    assert [f.box for f in after[:len(before)]] == [f.box for f in before]  # the first search's faces are kept


@pytest.mark.faces
def test_a_close_up_is_searched_once(faces, monkeypatch):
    """A 12 MP close-up of two people (faces of 300 and 220 px) shows no sign of small faces: it
    is not searched a second time, and finds what the first search alone finds."""
    from consentguard.inspect.faces import detect_faces, wide_shot

    rgb, boxes = _scene(faces, [300, 220])
    with monkeypatch.context() as m:
        _first_search_only(m)
        before = detect_faces(rgb)
    assert [_found(before, b) for b in boxes] == [1, 1]
    assert not wide_shot(before, rgb.shape[1], rgb.shape[0])
    assert [f.box for f in detect_faces(rgb)] == [f.box for f in before]
