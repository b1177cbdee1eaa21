"""Image inspection, step 1: read a photo completely and upright, or fail loudly.

Fail closed: a file that cannot be decoded to the last pixel raises
:class:`ImageError` (the check then gives *error*, never *pass*). Pillow's
``LOAD_TRUNCATED_IMAGES`` stays off for that reason.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

#: Largest image we decode. A 24 MP camera photo is far below; a decompression
#: bomb (a tiny file that claims gigapixels) is refused before decoding.
MAX_PIXELS = 100_000_000

# Pillow's own guard, aligned with ours (it raises past twice this).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

try:  # HEIC/HEIF (iPhone photos)
    from pillow_heif import register_heif_opener
    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a dependency
    pass

EXTENSIONS = (".jpg", ".jpeg", ".jfif", ".png", ".webp", ".tif", ".tiff", ".heic", ".heif", ".gif", ".bmp")


@dataclass
class LoadedImage:
    """An upright RGB copy of a photo, with where it came from."""

    name: str
    sha256: str
    rgb: np.ndarray  # height x width x 3, uint8
    format: str
    orientation: int  # the EXIF orientation tag that was applied (1 = none)
    metadata: list = field(default_factory=list)  # metadata.TextField: captions, keywords, people
    metadata_error: str | None = None  # metadata present but unreadable

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_file(path: str | Path) -> bytes:
    """The file's bytes. Only a regular file is read: a FIFO would block forever waiting for a
    writer, a device could be endless, so they are refused (opened without blocking, never read)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ImageError(f"{path}: not a regular file (a FIFO, device or socket): not read")
            return f.read()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read file: {exc.strerror or exc}") from exc


def load_image(path: str | Path) -> LoadedImage:
    """Read and decode ``path``; see :func:`decode_image`."""
    return decode_image(read_file(path), str(path))


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB (alpha flattened on white)."""
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = arr.max() if arr.size else 0.0
        scale = 255.0 / hi if hi > 0 else 0.0
        return Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8)).convert("RGB")
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, im).convert("RGB")
    return im.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def decode_image(data: bytes, name: str) -> LoadedImage:
    """Decode image bytes to an upright RGB array, or raise ImageError naming ``name``."""
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.width * im.height > MAX_PIXELS:
                raise Image.DecompressionBombError(f"{im.width}x{im.height} pixels")
            fmt = im.format or "unknown"
            im.load()
            metadata, metadata_error = _metadata(im, name)
            orientation = int(im.getexif().get(0x0112, 1) or 1)
            im = ImageOps.exif_transpose(im)
            rgb = np.asarray(_to_rgb(im), dtype=np.uint8)
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: not an image file consentguard can read") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name}: image is larger than the {MAX_PIXELS // 1_000_000} MP limit "
                         "(possible decompression bomb); refused") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: cannot decode image completely: {exc}") from exc
    return LoadedImage(name=name, sha256=sha256_bytes(data), rgb=np.ascontiguousarray(rgb),
                       format=fmt, orientation=orientation, metadata=metadata, metadata_error=metadata_error)


def _metadata(im, name: str):
    from .metadata import MetadataError, read_metadata

    try:
        return read_metadata(im), None
    except MetadataError as exc:
        return [], f"{name}: {exc}: names in it cannot be checked"
