"""Every pixel a viewer can see (issue #10): a photo-restricted face anywhere in the file
— a later frame, page or MPO image, a stale EXIF thumbnail, an image or ZIP appended after
the end, pixels hidden by transparency, a 1-bit dithered image, a JPEG compressed to
mush — never passes, and the reason says where.

R (photo-restricted) and C (clear) are real photos (see conftest); every file is built
with Pillow, checked against a real synced roster.
"""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageOps

from consentguard import Checker, open_db
from consentguard.inspect.image import decode_image

from conftest import R
from helpers.metadata import exif_with_thumbnail

pytestmark = pytest.mark.faces

SIZE = (640, 640)


@pytest.fixture(scope="module")
def checker(face_roster):
    return Checker(open_db(face_roster), record=False)


def picture(path, size=SIZE) -> Image.Image:
    """A real photo, upright, fitted into ``size`` on grey."""
    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    im.thumbnail(size)
    canvas = Image.new("RGB", size, (128, 128, 128))
    canvas.paste(im, ((size[0] - im.width) // 2, (size[1] - im.height) // 2))
    return canvas


@pytest.fixture(scope="module")
def restricted(faces):
    return picture(faces.restricted_other)


@pytest.fixture(scope="module")
def clear(faces):
    return picture(faces.clear_other)


def encode(ims, fmt, **kw) -> bytes:
    out = io.BytesIO()
    ims = [im.copy() for im in ims]  # Pillow keeps a save's settings on appended images: no carry-over
    if len(ims) > 1:
        kw.update(save_all=True, append_images=ims[1:])
    ims[0].save(out, fmt, **kw)
    return out.getvalue()


def check(checker, data: bytes, name: str):
    result = checker.check_bytes(data, name)
    return result, result.to_json()


def assert_blocks_in(checker, data, name, where):
    result, doc = check(checker, data, name)
    assert result.verdict == "block", result.reasons
    blocked = [f for f in doc["faces"] if f["verdict"] == "block"]
    assert blocked and all(f["student_number"] == R and f["view"] == where for f in blocked)
    assert any(r.startswith(f"in {where}: face at [") and "Marcus Ellery (#900001)" in r for r in result.reasons)
    return result


@pytest.mark.parametrize("fmt,ext,where", [
    ("GIF", "gif", "frame 2 of 2"), ("WEBP", "webp", "frame 2 of 2"), ("PNG", "png", "frame 2 of 2"),
    ("TIFF", "tif", "page 2 of 2"), ("MPO", "jpg", "image 2 of the MPO file"),
])
def test_restricted_face_in_a_later_frame_page_or_image_blocks(checker, clear, restricted, fmt, ext, where):
    data = encode([clear, restricted], fmt)
    assert decode_image(data, "x").format == fmt
    result = assert_blocks_in(checker, data, f"two.{ext}", where)
    shown = [f for f in result.decision.faces if f.view is None]
    assert shown and all(f.verdict == "pass" for f in shown)  # the first picture alone passes


def test_stale_exif_thumbnail_blocks(checker, clear, restricted):
    """An editor cropped the student out; the camera's thumbnail still shows them."""
    thumb = restricted.resize((160, 160))
    data = encode([clear], "JPEG", quality=90, exif=exif_with_thumbnail(encode([thumb], "JPEG", quality=85)))
    assert checker.check_bytes(encode([clear], "JPEG", quality=90), "cropped.jpg").verdict == "pass"
    result = assert_blocks_in(checker, data, "cropped.jpg", "EXIF thumbnail")
    left, top, right, bottom = next(f.box for f in result.decision.faces if f.verdict == "block")
    assert 55 < (left + right) / 2 < 105 and 55 < (top + bottom) / 2 < 105  # in the thumbnail's own pixels


def test_fresh_exif_thumbnail_costs_nothing(clear):
    thumb = clear.resize((160, 160))
    data = encode([clear], "JPEG", quality=90, exif=exif_with_thumbnail(encode([thumb], "JPEG", quality=75)))
    image = decode_image(data, "fresh.jpg")
    assert image.views == [] and image.unchecked == []


def test_letterboxed_fresh_exif_thumbnail_costs_nothing(faces):
    """Cameras put a 3:2 photo's thumbnail in a 160x120 frame with black bars."""
    photo = ImageOps.fit(Image.open(faces.group).convert("RGB"), (1500, 1000))  # a 3:2 camera photo
    small = photo.resize((160, round(160 * photo.height / photo.width)))
    thumb = Image.new("RGB", (160, 120), "black")
    thumb.paste(small, (0, (120 - small.height) // 2))
    data = encode([photo], "JPEG", quality=90, exif=exif_with_thumbnail(encode([thumb], "JPEG", quality=75)))
    image = decode_image(data, "camera.jpg")
    assert image.views == [] and image.unchecked == []


def test_two_jpegs_concatenated_block(checker, clear, restricted):
    data = encode([clear], "JPEG") + encode([restricted], "JPEG")
    assert_blocks_in(checker, data, "two.jpg", "image appended after the end of the JPEG")


def test_image_after_a_png_blocks(checker, clear, restricted):
    data = encode([clear], "PNG") + encode([restricted], "PNG")
    assert_blocks_in(checker, data, "two.png", "image appended after the end of the PNG")


def test_zip_appended_to_a_jpeg(checker, clear, restricted):
    """Pictures in the ZIP are checked; anything else in it is a review, named."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("kid.jpg", encode([restricted], "JPEG"))
        z.writestr("notes.txt", "hello")
    data = encode([clear], "JPEG") + archive.getvalue()
    result = assert_blocks_in(checker, data, "zip.jpg",
                              "kid.jpg in the ZIP archive appended after the end of the JPEG")
    assert any("ZIP archive whose 1 other file(s) (notes.txt) were not checked" in r for r in result.reasons)

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "hello")
    result = checker.check_bytes(encode([clear], "JPEG") + archive.getvalue(), "zip.jpg")
    assert result.verdict == "review"
    assert result.reasons == [f"zip.jpg: {len(archive.getvalue()):,} bytes after the end of the JPEG are a ZIP "
                              "archive whose 1 other file(s) (readme.txt) were not checked"]


def test_unknown_data_after_the_jpeg_is_a_review(checker, clear):
    data = encode([clear], "JPEG")
    assert checker.check_bytes(data + b"\x00" * 64, "padded.jpg").verdict == "pass"  # padding is fine
    result = checker.check_bytes(data + b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 500, "motion.jpg")
    assert result.verdict == "review"
    assert result.reasons == ["motion.jpg: 512 bytes after the end of the JPEG are an MP4/MOV video (e.g. a "
                              "phone's motion photo): they may hold pictures and were not checked"]
    result = checker.check_bytes(data + b"hidden", "junk.jpg")
    assert result.verdict == "review"
    assert result.reasons == ["junk.jpg: 6 bytes after the end of the JPEG are unknown data, starting "
                              "68 69 64 64 65 6e: they may hold pictures and were not checked"]


@pytest.mark.parametrize("alpha", [0, 3])
def test_face_hidden_by_transparency_blocks(checker, restricted, alpha):
    """Shown: a blank white picture. Drop the alpha channel (any converter does): the student."""
    hidden = restricted.convert("RGBA")
    hidden.putalpha(alpha)
    data = encode([hidden], "PNG")
    assert decode_image(data, "x").rgb.min() >= 250  # as shown: white
    assert_blocks_in(checker, data, "blank.png", "pixels hidden by transparency")


def test_one_bit_dithered_face_does_not_pass(checker, restricted):
    data = encode([restricted.convert("1")], "PNG")
    result, doc = check(checker, data, "dithered.png")
    assert result.verdict in ("block", "review"), result.reasons
    flagged = [f for f in doc["faces"] if f["verdict"] != "pass"]
    assert any(f["view"] == "dithered image smoothed for face detection" and f["student_number"] == R for f in flagged)
    assert R in result.decision.student_numbers


def test_jpeg_at_quality_1_is_a_review(checker, restricted):
    result = checker.check_bytes(encode([restricted], "JPEG", quality=1), "mush.jpg")
    assert result.verdict in ("block", "review")
    assert any(r.startswith("mush.jpg: the JPEG is compressed so heavily (quality about 1") for r in result.reasons)


def test_ordinary_jpeg_of_a_permitted_person_passes_without_extra_work(checker, faces, clear):
    data = faces.clear_other.read_bytes()
    image = decode_image(data, "biden.jpg")
    assert image.views == [] and image.unchecked == []
    result, doc = check(checker, data, "biden.jpg")
    assert result.verdict == "pass", result.reasons
    assert all(f["view"] is None for f in doc["faces"])


def test_still_animation_costs_one_picture(checker, clear):
    """30 frames of a still scene: the repeats are skipped, the verdict is the photo's."""
    frames = [clear.convert("P")] * 30
    data = encode(frames, "GIF", duration=100)
    image = decode_image(data, "still.gif")
    assert image.views == [] and image.unchecked == []
    assert checker.check_bytes(data, "still.gif").verdict == "pass"


def test_safe_copy_holds_only_the_main_picture(face_roster, clear, restricted, tmp_path):
    """Redacting an animated PNG with hidden pixels, a stale thumbnail and an appended image:
    the safe copy has one frame, no alpha, no EXIF, nothing after its end."""
    from consentguard.inspect.image import jpeg_end, png_end
    from consentguard.output.redact import safe_copy

    first = clear.convert("RGBA")
    corner = restricted.convert("RGBA").resize((200, 200))
    corner.putalpha(0)
    first.paste(corner, (0, 0))  # hidden pixels: the restricted face at alpha 0
    source = encode([first, restricted.convert("RGBA")], "PNG") + encode([ImageOps.mirror(restricted)], "JPEG")
    checker = Checker(open_db(face_roster), record=False)
    result, image = checker.check_decoded(source, "source.png")
    assert result.verdict == "block" and {v.label for v in image.views} >= {
        "frame 2 of 2", "pixels hidden by transparency", "image appended after the end of the PNG"}
    for fmt in ("PNG", "JPEG", "WEBP"):
        safe = safe_copy(image.rgb, result.to_json(), fmt)
        with Image.open(io.BytesIO(safe)) as im:
            assert getattr(im, "n_frames", 1) == 1 and im.mode == "RGB" and "exif" not in im.info
        end = png_end(safe) if fmt == "PNG" else jpeg_end(safe) if fmt == "JPEG" else len(safe)
        assert end == len(safe)
        again = decode_image(safe, f"safe.{fmt.lower()}")
        assert again.views == [] and again.unchecked == []
        assert checker.check_bytes(safe, "safe").verdict == "pass"


def test_a_face_in_one_frame_of_a_still_scene_is_not_taken_for_a_repeat(checker, clear, restricted):
    """Near-duplicate frames are skipped, but a face pasted into one frame of twelve is not one."""
    from consentguard.inspect.faces import detect_faces
    left, top, right, bottom = detect_faces(np.asarray(restricted))[0].box  # the face, wherever the photo has it
    pad = (right - left) // 4
    face = restricted.crop((left - pad, top - pad, right + pad, bottom + pad)).resize((110, 115))
    frames = []
    for i in range(12):
        frame = clear.copy()
        frame.putpixel((i, 0), (255, 0, 0))  # the frames differ a little, as in a real animation
        if i == 6:
            frame.paste(face, (20, 20))
        frames.append(frame.convert("P"))
    data = encode(frames, "GIF", duration=100)
    assert [v.label for v in decode_image(data, "x").views] == ["frame 7 of 12"]
    assert_blocks_in(checker, data, "still.gif", "frame 7 of 12")


def test_a_name_written_on_page_2_is_read_and_hidden_nowhere_else(checker, clear):
    """OCR reads the other pictures of the file too; the box belongs to that page, so the
    safe copy of page 1 leaves page 1 alone."""
    from PIL import ImageDraw, ImageFont

    from consentguard.output.redact import areas_to_hide

    page = Image.new("RGB", SIZE, "white")
    ImageDraw.Draw(page).text((40, 280), "Awarded to Priya Natarajan", fill=(20, 20, 60),
                              font=ImageFont.load_default(size=36))
    result, doc = check(checker, encode([clear, page], "TIFF"), "award.tif")
    assert result.verdict == "block"
    hits = [n for n in doc["names"] if n["source"] == "ocr"]
    assert hits and hits[0]["view"] == "page 2 of 2" and hits[0]["student_number"] == "900003"
    assert any(r.startswith("ocr in page 2 of 2 at [") for r in result.reasons)
    assert areas_to_hide(doc) == []


# -- red-team reproductions (issue #10 follow-up): each passed a restricted face before ----------

def upright(path) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def face_box(im: Image.Image):
    import numpy as np

    from consentguard.inspect.faces import detect_faces

    return detect_faces(np.asarray(im))[0].box


def pixelate(im: Image.Image, box, cell: int) -> Image.Image:
    """``box`` (aligned to ``cell``) replaced by cell x cell blocks of its mean colour, as an editor
    hides a face."""
    im = im.copy()
    left, top, right, bottom = box
    region = im.crop(box)
    small = region.resize(((right - left) // cell, (bottom - top) // cell), Image.Resampling.BOX)
    im.paste(small.resize(region.size, Image.Resampling.NEAREST), (left, top))
    return im


def aligned(box, cell: int):
    left, top, right, bottom = box
    return (left // cell * cell, top // cell * cell, -(-right // cell) * cell, -(-bottom // cell) * cell)


def _busy_edges(im: Image.Image) -> Image.Image:
    """Striped left and right edges, so image._trim_bars finds no flat bar to cut off."""
    import numpy as np

    a = np.asarray(im).copy()
    stripes = (np.arange(im.height) // 8 % 2)[:, None, None]
    a[:, :4] = np.where(stripes == 0, 0, 255)
    a[:, -4:] = np.where(stripes == 0, 255, 0)
    return Image.fromarray(a)


def test_stale_thumbnail_of_a_face_pixelated_in_the_photo_is_not_taken_for_a_fresh_one(checker, faces):
    """Pixelating a face on the comparison grid keeps every cell's mean grey; the camera's
    thumbnail still shows the face, with detail where the photo has none: it is checked."""
    im = upright(faces.restricted_other)
    side = min(im.size)
    im = im.crop(((im.width - side) // 2, (im.height - side) // 2, (im.width + side) // 2,
                  (im.height + side) // 2)).resize((640, 640))
    im = _busy_edges(im)
    hidden = pixelate(im, aligned(face_box(im), 40), 40)
    thumb = encode([im.resize((160, 160))], "JPEG", quality=85)
    assert checker.check_bytes(thumb, "thumb.jpg").verdict == "block"
    assert checker.check_bytes(encode([hidden], "JPEG", quality=90), "hidden.jpg").verdict == "pass"
    result = checker.check_bytes(encode([hidden], "JPEG", quality=90, exif=exif_with_thumbnail(thumb)), "x.jpg")
    assert result.verdict != "pass", result.reasons


def test_later_page_showing_a_face_pixelated_on_page_one_is_not_taken_for_a_repeat(checker, faces):
    """A 4096 px scan whose first page pixelates the face in 32 px blocks (the comparison cell)
    and whose second page is the original: page 2 has the same cell means but more detail."""
    import numpy as np

    rng = np.random.default_rng(1)
    scene = Image.fromarray(rng.integers(60, 200, (512, 512, 3), dtype=np.uint8)).resize(
        (4096, 4096), Image.Resampling.BICUBIC)
    face = upright(faces.restricted_other)
    k = 130 / 409
    scene.paste(face.resize((round(face.width * k), round(face.height * k))), (1600, 1600))
    first = pixelate(scene, aligned(face_box(scene), 32), 32)
    result = checker.check_bytes(encode([first, scene], "TIFF"), "scan.tif")
    assert result.verdict != "pass", result.reasons


def test_face_drawn_in_the_alpha_channel_over_white_shows_on_a_dark_page(checker, restricted):
    """All-white colour, the face in the alpha channel: blank on white, the face on a dark page."""
    import numpy as np

    grey = np.asarray(restricted.convert("L"))
    white = Image.new("L", SIZE, 255)
    rgba = Image.merge("RGBA", [white, white, white, Image.fromarray(grey)])
    on_black = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("RGB")
    assert checker.check_bytes(encode([on_black], "PNG"), "seen.png").verdict == "block"  # what a viewer sees
    result = checker.check_bytes(encode([rgba], "PNG"), "darkmode.png")
    assert result.verdict != "pass", result.reasons
    assert_blocks_in(checker, encode([rgba], "PNG"), "darkmode.png", "the picture on a dark background")


def test_dithered_black_and_white_face_saved_as_rgb(checker, restricted):
    """The same dots as test_one_bit_dithered_face_does_not_pass, saved as an RGB PNG."""
    dots = restricted.convert("L").convert("1")
    assert checker.check_bytes(encode([dots], "PNG"), "dots1.png").verdict == "block"
    result, doc = check(checker, encode([dots.convert("RGB")], "PNG"), "dots.png")
    assert result.verdict != "pass", result.reasons
    assert any(f["view"] == "dithered image smoothed for face detection" and f["student_number"] == R
               for f in doc["faces"] if f["verdict"] != "pass")  # found as a face, not by luck as an unclear one


def test_dithered_face_with_a_third_colour(checker, restricted):
    """A navy and cream palette dither in which the quantizer also used black (3 colours)."""
    palette = Image.new("P", (1, 1))
    palette.putpalette([20, 30, 90, 250, 240, 210] + [0] * (254 * 3))
    dots = restricted.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
    assert len(dots.getcolors()) == 3
    result, doc = check(checker, encode([dots], "PNG"), "poster.png")
    assert result.verdict != "pass", result.reasons
    assert any(f["view"] == "dithered image smoothed for face detection" and f["student_number"] == R
               for f in doc["faces"] if f["verdict"] != "pass")
def test_jpeg_hidden_between_an_mpo_and_its_second_image_is_checked(checker, clear, restricted):
    """A JPEG inserted right after an MPO's first image, the MPF offset of image 2 moved past
    it: only the JPEGs the MPF index points at are the MPO's own."""
    import struct

    from consentguard.inspect.image import jpeg_end

    mpo = encode([clear, clear.transpose(Image.Transpose.FLIP_LEFT_RIGHT)], "MPO", quality=90)
    hidden = encode([restricted], "JPEG", quality=90)
    end = jpeg_end(mpo)
    header = mpo.find(b"MPF\x00") + 4
    order = "<" if mpo[header:header + 2] == b"II" else ">"
    ifd = header + struct.unpack(order + "I", mpo[header + 4:header + 8])[0]
    for k in range(struct.unpack(order + "H", mpo[ifd:ifd + 2])[0]):
        tag, _, _, value = struct.unpack(order + "HHII", mpo[ifd + 2 + 12 * k:ifd + 14 + 12 * k])
        if tag == 0xB002:  # MP Entry: 16 bytes per image (attribute, size, offset, dependents)
            second = header + value + 16
    data = bytearray(mpo[:end] + hidden + mpo[end:])
    offset = struct.unpack_from(order + "I", data, second + 8)[0]
    struct.pack_into(order + "I", data, second + 8, offset + len(hidden))
    result = checker.check_bytes(bytes(data), "stereo.jpg")
    assert result.verdict != "pass", result.reasons


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "TIFF"])
def test_jpeg_appended_after_a_webp_bmp_or_tiff(checker, clear, restricted, fmt):
    data = encode([clear], fmt) + encode([restricted], "JPEG", quality=90)
    result = checker.check_bytes(data, f"polyglot.{fmt.lower()}")
    assert result.verdict != "pass", result.reasons


def test_two_stray_bytes_after_a_segment_hide_an_appended_jpeg(checker, clear, restricted):
    """libjpeg skips stray bytes between segments; so must the walk to the end of the JPEG."""
    base = encode([clear], "JPEG", quality=90)
    tail = encode([restricted], "JPEG", quality=90)
    assert checker.check_bytes(base + tail, "plain.jpg").verdict == "block"
    data = base[:2] + b"\xff\xef\x00\x04ab" + b"xy" + base[2:] + tail
    result = checker.check_bytes(data, "junk.jpg")
    assert result.verdict != "pass", result.reasons


def test_tiff_with_jpeg_compression_at_quality_1(checker, restricted):
    """The quality rule of JPEG files applies to JPEG-compressed TIFF strips too."""
    out = io.BytesIO()
    restricted.save(out, "TIFF", compression="jpeg", quality=1)
    result = checker.check_bytes(out.getvalue(), "mush.tif")
    assert result.verdict != "pass", result.reasons


def test_safe_copy_hides_a_face_found_only_in_the_smoothed_dither(checker, restricted):
    """The dots of a dithered face are the photo itself: the face found in the smoothed copy is on
    the photo's pixels, so the safe copy must hide it there."""
    from consentguard.output.redact import areas_to_hide, safe_copy
    result, image = checker.check_decoded(encode([restricted.convert("1")], "PNG"), "dithered.png")
    doc = result.to_json()
    found = [f for f in doc["faces"] if f["student_number"] == R and f["view"]]
    assert found and all(f["on_photo"] for f in found)
    assert any(tuple(f["box"]) in areas_to_hide(doc) for f in found)
    again = checker.check_bytes(safe_copy(image.rgb, doc), "dithered.safe.jpg")
    assert R not in again.decision.student_numbers, again.reasons


def test_text_hidden_under_transparency_is_read(checker):
    """A name written in pixels made invisible by alpha 0: any conversion that drops alpha shows it."""
    from PIL import ImageDraw, ImageFont
    im = Image.new("RGBA", (1200, 300), (255, 255, 255, 255))
    ImageDraw.Draw(im).text((40, 100), "Priya Natarajan", fill=(0, 0, 0, 0),
                            font=ImageFont.load_default(size=80))
    result = checker.check_bytes(encode([im], "PNG"), "blank.png")
    assert result.verdict == "block", result.reasons
    assert any("in pixels hidden by transparency" in r and "Priya Natarajan" in r for r in result.reasons)
