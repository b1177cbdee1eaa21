"""Image stage: complete, upright decoding of every mode, or a named error."""

import io

import numpy as np
import pytest
from PIL import Image

from consentguard.errors import ImageError
from consentguard.image import MAX_PIXELS, decode_image, load_image


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
