"""Image stage: complete, upright decoding of every mode, or a named error."""

import io

import numpy as np
import pytest
from PIL import Image

from consentguard.errors import ImageError
from consentguard.inspect.image import MAX_PIXELS, decode_image, load_image


def encode(im: Image.Image, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "L", "1", "P", "RGBA", "LA", "CMYK", "I;16", "I", "F"])
def test_every_mode_becomes_rgb(mode):
    base = Image.linear_gradient("L").resize((64, 48))
    im = base.convert(mode) if mode != "I;16" else Image.fromarray(
        np.asarray(base, dtype=np.uint16) * 256)
    assert im.mode == mode
    fmt = "TIFF" if mode in ("CMYK", "I", "F") else "PNG"
    loaded = decode_image(encode(im, fmt), f"x.{fmt.lower()}")
    assert loaded.rgb.shape == (48, 64, 3) and loaded.rgb.dtype == np.uint8
    assert loaded.rgb.max() > 100  # not blacked out by a bad conversion


def test_alpha_is_flattened_on_white():
    im = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert decode_image(encode(im), "a.png").rgb.min() == 255


@pytest.mark.parametrize("orientation,shape", [(1, (40, 60, 3)), (6, (60, 40, 3)), (8, (60, 40, 3)), (3, (40, 60, 3))])
def test_exif_orientation_applied(orientation, shape):
    im = Image.new("RGB", (60, 40), "red")
    exif = Image.Exif()
    exif[0x0112] = orientation
    loaded = decode_image(encode(im, "JPEG", exif=exif), "o.jpg")
    assert loaded.rgb.shape == shape and loaded.orientation == orientation


def test_webp_reads():
    loaded = decode_image(encode(Image.new("RGB", (30, 20), "blue"), "WEBP"), "w.webp")
    assert loaded.format == "WEBP" and loaded.width == 30


def test_empty_file(tmp_path):
    (tmp_path / "z.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match=r"z\.jpg: empty file \(0 bytes\)"):
        load_image(tmp_path / "z.jpg")


def test_truncated_jpeg_is_an_error():
    data = encode(Image.effect_noise((400, 300), 50).convert("RGB"), "JPEG")
    with pytest.raises(ImageError, match="t.jpg: cannot decode image completely"):
        decode_image(data[: len(data) // 2], "t.jpg")


def test_not_an_image():
    with pytest.raises(ImageError, match="notes.jpg: not an image file consentguard can read"):
        decode_image(b"Student_Number,First_Name\n1,Ann\n", "notes.jpg")


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match=r"gone\.jpg: cannot read file"):
        load_image(tmp_path / "gone.jpg")


def test_decompression_bomb_refused():
    side = int(MAX_PIXELS ** 0.5) + 100
    data = encode(Image.new("1", (side, side)), "PNG", optimize=True)
    assert len(data) < 5_000_000
    with pytest.raises(ImageError, match="MP limit"):
        decode_image(data, "bomb.png")


# -- every pixel a viewer can see (issue #10): views, bounds, trailers ------------------------

def noise_frames(count: int, size=(64, 48)) -> list[Image.Image]:
    rng = np.random.default_rng(7)
    return [Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)) for _ in range(count)]


def animation(frames, fmt="GIF") -> bytes:
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=50)


def test_distinct_frames_are_views_up_to_the_limit():
    from consentguard.inspect.image import MAX_VIEWS

    image = decode_image(animation(noise_frames(5)), "five.gif")
    assert [v.label for v in image.views] == [f"frame {i} of 5" for i in range(2, 6)]
    assert all(v.picture for v in image.views) and image.unchecked == []

    image = decode_image(animation(noise_frames(12)), "twelve.gif")
    assert len(image.views) == MAX_VIEWS
    assert image.unchecked == ["twelve.gif: 3 more distinct pictures in the file (frame 10 of 12, frame 11 of 12, "
                               "frame 12 of 12) were not checked (limit 8 besides the photo): faces in them "
                               "cannot be checked"]


def test_hundreds_of_frames_are_sampled_and_said_so():
    from consentguard.inspect.image import MAX_FRAMES

    nearly_still = [Image.new("RGB", (32, 32), (128 + i % 2,) * 3) for i in range(300)]
    image = decode_image(animation(nearly_still), "long.gif")
    assert image.views == []
    assert image.unchecked == [f"long.gif: has 300 frames; {MAX_FRAMES} of them, evenly spread, were checked, "
                               "the others were not"]


def test_frames_past_the_pixel_limit_are_named(monkeypatch):
    import consentguard.inspect.image as image_module

    monkeypatch.setattr(image_module, "MAX_PIXELS", 64 * 48 * 3)
    image = decode_image(animation(noise_frames(5)), "big.gif")
    assert [v.label for v in image.views] == ["frame 2 of 5", "frame 3 of 5"]
    assert image.unchecked == ["big.gif: frame 4 of 5 and those after it were not checked: the file holds "
                               "more than 0 MP in total"]


def test_an_undecodable_later_frame_is_unchecked_not_a_crash():
    data = animation(noise_frames(3))
    cut = data[: len(data) - 400]  # the last frame loses its end
    image = decode_image(cut, "cut.gif")
    assert image.unchecked and image.unchecked[0].startswith("cut.gif: frame 3 of 3 (and any after it) cannot be "
                                                             "decoded")


def test_later_frames_are_turned_upright_like_the_first():
    exif = Image.Exif()
    exif[0x0112] = 6
    frames = noise_frames(2, size=(64, 32))
    image = decode_image(encode(frames[0], "TIFF", save_all=True, append_images=frames[1:], exif=exif), "x.tif")
    assert image.rgb.shape == (64, 32, 3) and image.views[0].rgb.shape == (64, 32, 3)


def test_jpeg_end_follows_segments_past_an_exif_thumbnail():
    from consentguard.inspect.image import jpeg_end

    from helpers.metadata import exif_with_thumbnail

    thumb = encode(Image.new("RGB", (16, 16), "red"), "JPEG")
    data = encode(Image.new("RGB", (64, 64), "blue"), "JPEG", exif=exif_with_thumbnail(thumb), progressive=True)
    assert jpeg_end(data) == len(data)
    assert jpeg_end(data + b"tail") == len(data)
    assert jpeg_end(data[:-2]) is None
    assert jpeg_end(b"not a jpeg") is None


def test_trailer_of_unknown_bytes_and_padding():
    data = encode(Image.new("RGB", (64, 64), "blue"), "JPEG")
    assert decode_image(data + b"\x00" * 100, "pad.jpg").unchecked == []
    png = encode(Image.new("RGB", (64, 64), "blue"), "PNG")
    assert decode_image(png + b"secret", "x.png").unchecked == [
        "x.png: 6 bytes after the end of the PNG are unknown data, starting 73 65 63 72 65 74: they may hold "
        "pictures and were not checked"]


def test_a_broken_appended_image_is_unchecked():
    data = encode(Image.new("RGB", (64, 64), "blue"), "JPEG")
    image = decode_image(data + data[:300], "broken.jpg")
    assert image.views == [] and len(image.unchecked) == 1
    assert image.unchecked[0].startswith("broken.jpg: the image appended after the end of the JPEG cannot be decoded")


@pytest.mark.parametrize("quality", [1, 5, 10, 25, 50, 75, 90, 95])
def test_jpeg_quality_is_estimated_from_the_tables(quality):
    from consentguard.inspect.image import jpeg_quality

    data = encode(Image.new("RGB", (16, 16), "blue"), "JPEG", quality=quality)
    assert abs(jpeg_quality(Image.open(io.BytesIO(data)).quantization) - quality) <= max(2, quality // 20)


def test_low_quality_is_unchecked_and_ordinary_quality_is_not():
    im = Image.new("RGB", (64, 64), "blue")
    assert decode_image(encode(im, "JPEG", quality=9), "low.jpg").unchecked[0].startswith(
        "low.jpg: the JPEG is compressed so heavily (quality about 9")
    assert decode_image(encode(im, "JPEG", quality=10), "ok.jpg").unchecked == []


def test_flat_colour_under_transparency_is_not_a_view():
    """Ordinary cut-outs (a logo on transparent black) hide nothing."""
    logo = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    logo.paste((200, 30, 30, 255), (16, 16, 48, 48))
    assert decode_image(encode(logo), "logo.png").views == []


def test_many_appended_images_are_bounded():
    from consentguard.inspect.image import MAX_FRAMES

    tiny = encode(Image.new("RGB", (8, 8), "blue"), "JPEG")
    image = decode_image(tiny * (MAX_FRAMES + 5), "many.jpg")
    assert image.unchecked == [f"many.jpg: more than {MAX_FRAMES} images follow the end of the JPEG: the others "
                               "were not checked"]


def test_a_damaged_zip_after_the_image_is_named():
    data = encode(Image.new("RGB", (64, 64), "blue"), "JPEG")
    assert decode_image(data + b"PK\x03\x04" + b"x" * 40, "z.jpg").unchecked == [
        "z.jpg: 44 bytes after the end of the JPEG are a damaged ZIP archive: they may hold pictures and were "
        "not checked"]


def test_jpeg_end_skips_stray_bytes_between_segments_as_libjpeg_does():
    from consentguard.inspect.image import jpeg_end

    data = encode(Image.new("RGB", (64, 64), "blue"), "JPEG")
    junk = data[:2] + b"\xff\xef\x00\x04ab" + b"xy" + data[2:]
    assert Image.open(io.BytesIO(junk)).load() is not None  # Pillow reads it
    assert jpeg_end(junk) == len(junk)
    assert jpeg_end(junk + data) == len(junk)


@pytest.mark.parametrize("fmt,kw", [("WEBP", {}), ("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {}),
                                    ("TIFF", {"compression": "tiff_lzw"}), ("TIFF", {"compression": "jpeg"})])
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "1"])
def test_the_end_of_webp_bmp_and_tiff_is_found_exactly(fmt, kw, mode):
    """Nothing after the picture: no unchecked part; then a JPEG or unknown bytes after it are found."""
    frames = noise_frames(4, size=(48, 40))
    im = frames[0].convert(mode)
    if (fmt == "WEBP" and mode in ("P", "1")) or (kw.get("compression") == "jpeg" and mode in ("P", "1", "RGBA")):
        im = frames[0]
    data = encode(im, fmt, **kw)
    if fmt == "TIFF":  # pages, with EXIF: their IFDs and values follow the first page's
        exif = Image.Exif()
        exif[0x010E] = "a caption long enough to be stored outside its IFD"
        data = encode(im, fmt, save_all=True, append_images=[f.convert(im.mode) for f in frames[1:3]], exif=exif, **kw)
    assert decode_image(data, "x").unchecked == []
    assert decode_image(data + b"\x00" * 7, "x").unchecked == []  # zero padding
    kind = {"WEBP": "WebP"}.get(fmt, fmt)
    image = decode_image(data + encode(frames[3], "JPEG", quality=95), "x")
    assert [v.label for v in image.views][-1] == f"image appended after the end of the {kind}"
    problem = decode_image(data + b"secret", "x").unchecked[-1]  # (a multi-page TIFF's padding counted too)
    assert f"bytes after the end of the {kind} are unknown data" in problem and problem.endswith("not checked")


def test_a_bmp_claiming_to_be_longer_still_has_its_appended_jpeg_checked():
    """bfSize is not read by anything that shows the picture: the pixel data's end is used."""
    frames = noise_frames(2, size=(48, 40))
    bmp = bytearray(encode(frames[0], "BMP"))
    appended = encode(frames[1], "JPEG", quality=95)
    bmp[2:6] = (len(bmp) + len(appended)).to_bytes(4, "little")
    assert [v.label for v in decode_image(bytes(bmp) + appended, "x.bmp").views] == [
        "image appended after the end of the BMP"]


def test_a_tiff_whose_structure_cannot_be_walked_is_named():
    data = bytearray(encode(Image.new("RGB", (16, 16), "blue"), "TIFF"))
    from consentguard.inspect.image import tiff_end

    assert tiff_end(bytes(data)) == len(data)
    assert tiff_end(bytes(data[:-4])) is None  # the last IFD is cut short
    assert tiff_end(b"II*\x00" + (10**6).to_bytes(4, "little")) is None


@pytest.mark.parametrize("quality,unchecked", [(1, True), (5, True), (10, False), (75, False)])
def test_quality_of_a_jpeg_compressed_tiff_is_measured(quality, unchecked):
    data = encode(noise_frames(1, size=(64, 64))[0], "TIFF", compression="jpeg", quality=quality)
    problems = decode_image(data, "x.tif").unchecked
    assert bool(problems) == unchecked, problems
    if unchecked:
        assert problems[0].startswith("x.tif: the TIFF's JPEG-compressed image is compressed so heavily (quality")


def test_few_flat_colours_are_not_taken_for_a_dither():
    """Text, a logo or a flat drawing in a handful of colours has no face hidden as dots."""
    from PIL import ImageDraw

    im = Image.new("RGB", (320, 160), "white")
    ImageDraw.Draw(im).text((10, 10), "Awarded to\nfor excellence\n" * 3, fill="black")
    ImageDraw.Draw(im).rectangle((200, 40, 300, 140), fill=(200, 30, 30))
    for flat in (im, im.convert("P"), im.convert("1", dither=Image.Dither.NONE)):
        assert decode_image(encode(flat), "x.png").views == []


def test_anti_aliased_cut_out_is_not_shown_on_a_dark_page():
    """Soft edges of a cut-out are a thin rim of partial alpha, not a picture in the alpha channel."""
    from PIL import ImageDraw

    alpha = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(alpha).ellipse((20, 20, 180, 180), fill=255)
    alpha = alpha.resize((100, 100), Image.Resampling.LANCZOS)  # anti-aliased rim
    logo = Image.new("RGBA", (100, 100), (30, 90, 200, 255))
    logo.putalpha(alpha)
    assert decode_image(encode(logo), "logo.png").views == []  # (its flat blue under the transparency hides nothing)
    ramp = Image.linear_gradient("L").resize((100, 100))
    logo.putalpha(ramp)  # a picture in the alpha channel
    assert [v.label for v in decode_image(encode(logo), "x.png").views] == ["the picture on a dark background"]


def test_an_mpos_own_images_are_frames_not_appended_data():
    frames = noise_frames(3, size=(48, 40))
    data = encode(frames[0], "MPO", save_all=True, append_images=frames[1:], quality=95)
    image = decode_image(data, "x.jpg")
    assert [v.label for v in image.views] == ["image 2 of the MPO file", "image 3 of the MPO file"]
    assert image.unchecked == []


def test_quality_of_a_later_tiff_page_is_measured():
    frames = noise_frames(2, size=(64, 64))
    first = encode(frames[0], "TIFF", compression="jpeg", quality=90)
    data = encode(frames[0], "TIFF", save_all=True, append_images=[frames[1]], compression="jpeg", quality=1)
    assert decode_image(first, "x.tif").unchecked == []
    page = Image.open(io.BytesIO(data))
    page.seek(1)
    assert page.tag_v2.get(259) == 7
    problems = decode_image(data, "x.tif").unchecked
    assert any(p.startswith("x.tif: page 2 of 2 (TIFF's JPEG-compressed image) is compressed so heavily")
               for p in problems)


def test_a_picture_wrapped_in_an_unknown_webp_chunk_is_checked():
    """The RIFF size may cover more than the WebP's own chunks: the chunks are walked."""
    frames = noise_frames(2, size=(48, 40))
    webp, hidden = encode(frames[0], "WEBP"), encode(frames[1], "JPEG", quality=95)
    data = bytearray(webp + b"JUNK" + len(hidden).to_bytes(4, "little") + hidden + b"\x00" * (len(hidden) & 1))
    data[4:8] = (len(data) - 8).to_bytes(4, "little")
    assert [v.label for v in decode_image(bytes(data), "x.webp").views] == ["image appended after the end of the WebP"]


def test_a_picture_stored_in_a_private_tiff_tag_is_checked():
    frames = noise_frames(2, size=(48, 40))
    hidden = encode(frames[1], "JPEG", quality=95)
    from PIL import TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[65000] = hidden
    info.tagtype[65000] = 7  # UNDEFINED: raw bytes
    data = encode(frames[0], "TIFF", tiffinfo=info)
    assert hidden in data
    assert [v.label for v in decode_image(data, "x.tif").views] == ["image in TIFF tag 65000"]
    assert decode_image(encode(frames[0], "TIFF", compression="jpeg"), "y.tif").views == []  # JPEGTables: no picture


def test_a_jpeg_without_its_eoi_ends_at_the_next_image_and_a_missing_end_is_named():
    first = encode(Image.new("RGB", (64, 64), "blue"), "JPEG")
    second = encode(Image.new("RGB", (16, 16), "red"), "JPEG")
    try:  # Pillow mostly refuses a JPEG without its EOI; if it reads one, the missing end is named
        assert decode_image(first[:-2], "x.jpg").unchecked == [
            "x.jpg: the end of the JPEG could not be found, so data after it (if any) was not checked"]
    except ImageError:
        pass
    from consentguard.inspect.image import jpeg_end

    assert jpeg_end(first[:-2] + second) == len(first) - 2  # the next image's SOI ends it


def test_absurd_aspect_ratio_refused_before_decoding(tmp_path):
    """A 1 x 2,000,000 PNG is tiny as a file and under the pixel limit, but no photo: an error, at once."""
    buf = io.BytesIO()
    Image.new("L", (2_000_000, 1)).save(buf, "PNG")
    with pytest.raises(ImageError, match=r"strip.png: image is 2000000 x 1 pixels, longer than 40:1"):
        decode_image(buf.getvalue(), "strip.png")
    panorama = io.BytesIO()
    Image.new("RGB", (3000, 300)).save(panorama, "JPEG")  # 10:1, a phone panorama: still read
    assert decode_image(panorama.getvalue(), "pano.jpg").width == 3000


def test_absurd_aspect_ratio_in_an_appended_picture_is_named_not_decoded():
    photo, strip = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(photo, "PNG")
    Image.new("L", (1, 5000)).save(strip, "PNG")
    image = decode_image(photo.getvalue() + strip.getvalue(), "x.png")
    assert image.views == [] and any("1 x 5000 pixels, longer than 40:1" in u for u in image.unchecked)
