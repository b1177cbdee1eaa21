"""Safe copies: the photo with what caused the verdict hidden and every piece of metadata gone.

What is hidden: every face that did not pass (a restricted student, a look-alike,
a face too small, blurred or covered to judge), the region boxes of metadata
naming a photo-restricted student, and the text boxes in which OCR found a
restricted name. Each area is enlarged (hair, ears, the rest of a name tag),
pixelated to blocks of a tenth of its size and then blurred, which leaves nothing
a face recogniser or a person can use (tests/test_redact.py re-checks a safe
copy). The copy is encoded afresh from the upright pixels of the photo as shown,
so no EXIF (GPS and thumbnail included), IPTC, XMP, ICC profile, comment, other
frame or page, appended data or alpha channel survives.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from consentguard.errors import ConsentGuardError
from consentguard.policy import DEFAULTS

#: How much each hidden box grows on every side, as a share of its width and height (setting redact_grow).
GROW = DEFAULTS["redact_grow"]
FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}


def areas_to_hide(doc: dict) -> list[tuple[int, int, int, int]]:
    """Boxes to hide in the photo as shown, from a result document (``CheckResult.to_json()``).
    Boxes in other pictures (a later frame, a thumbnail) are elsewhere: the safe copy has only this one;
    faces found in a rendering of the photo itself (a smoothed dither) are on it (``on_photo``)."""
    boxes = [tuple(face["box"]) for face in doc["faces"] if face["verdict"] != "pass" and on_photo(face)]
    boxes += [tuple(hit["box"]) for hit in doc["names"] if hit.get("box") and not hit.get("view")]
    return boxes


def on_photo(face: dict) -> bool:
    """Whether a face record's box is on the photo as shown (results cached before ``on_photo``
    existed: the faces without a view)."""
    return face.get("on_photo", not face.get("view"))


def _grow(box, width: int, height: int, grow: float) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    dx, dy = (right - left) * grow, (bottom - top) * grow
    return (max(0, int(left - dx)), max(0, int(top - dy * 1.2)),
            min(width, int(right + dx + 1)), min(height, int(bottom + dy + 1)))


def hide(rgb: np.ndarray, boxes, grow: float = GROW) -> Image.Image:
    """A new image (no metadata) with every box (grown by ``grow``) pixelated and blurred beyond recognition."""
    im = Image.fromarray(np.ascontiguousarray(rgb))
    for box in boxes:
        left, top, right, bottom = _grow(box, im.width, im.height, grow)
        if right - left < 2 or bottom - top < 2:
            continue
        area = im.crop((left, top, right, bottom))
        blocks = (max(1, area.width // 10), max(1, area.height // 10))
        area = area.resize(blocks, Image.BILINEAR).resize(area.size, Image.NEAREST)
        area = area.filter(ImageFilter.GaussianBlur(max(area.width, area.height) / 12))
        im.paste(area, (left, top))
    return im


def encode(im: Image.Image, fmt: str = "JPEG") -> bytes:
    """Encode without any metadata (``im`` comes from :func:`hide`: fresh pixels, empty ``info``)."""
    out = io.BytesIO()
    if fmt == "JPEG":
        im.convert("RGB").save(out, "JPEG", quality=90, optimize=True)
    else:
        im.save(out, fmt)
    return out.getvalue()


def safe_copy(rgb: np.ndarray, doc: dict, fmt: str = "JPEG", grow: float = GROW) -> bytes:
    """The safe copy of a checked photo as encoded bytes (``grow``: the policy's redact_grow)."""
    return encode(hide(rgb, areas_to_hide(doc), grow), fmt)


def output_format(name: str) -> str:
    from pathlib import Path

    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise ConsentGuardError(f"{name}: cannot write a safe copy with this extension; use .jpg, .png or .webp")
    return FORMATS[suffix]
