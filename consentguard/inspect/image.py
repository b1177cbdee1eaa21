"""Image inspection, step 1: read a photo completely and upright, or fail loudly.

Fail closed: a file that cannot be decoded to the last pixel raises
:class:`ImageError` (the check then gives *error*, never *pass*). Pillow's
``LOAD_TRUNCATED_IMAGES`` stays off for that reason.

Every pixel a viewer can see is checked, not only the picture as normally shown:
the other frames of an animation, the other pages of a TIFF, the other images of
an MPO, a stale EXIF thumbnail, images appended after the end of the file (or
stored in a TIFF tag),
pixels hidden by transparency, the photo on a dark page when its alpha channel
holds a picture, and a smoothed copy of a dithered image
become extra :class:`View` s (near-duplicates skipped, their number and pixels
bounded). What cannot be checked (a ZIP appended to a JPEG, frames past the
limit, a JPEG compressed beyond what face detection survives) is named in
:attr:`LoadedImage.unchecked`: each is a review.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageFilter, UnidentifiedImageError

from consentguard.errors import ImageError
from consentguard.inspect.gif import gif_blocks

#: Largest image we decode. A 24 MP camera photo is far below; a decompression
#: bomb (a tiny file that claims gigapixels) is refused before decoding.
MAX_PIXELS = 100_000_000
#: Longest side over shortest that is still a photo (phone panoramas reach about 10:1): a 1 x 25,000,000
#: strip passes the pixel limit but pinned a worker at 11.7 GB. Refused before decoding.
MAX_ASPECT = 40

# Pillow's own guard, aligned with ours (it raises past twice this).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

try:  # HEIC/HEIF (iPhone photos)
    from pillow_heif import register_heif_opener
    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a dependency
    pass

#: Changes whenever what a decoded photo contains changes (views, unchecked parts),
#: so cached scan results are not reused.
DECODER_VERSION = "views2"

#: At most this many extra views of one file are checked; more distinct ones are a review.
MAX_VIEWS = 8
#: A file with more frames or pages than this is sampled evenly (and goes to review).
MAX_FRAMES = 48
#: Views are compared as small grey copies, one cell per this many pixels of the smaller
#: picture (at least 16, at most 128 cells a side) ...
COMPARE_CELL_PX = 16
#: ... and one that differs from a view already kept by less than this in every cell (grey
#: levels, 0-255) is a near-duplicate: a still scene in an animation costs little. Measured on
#: a real group photo at 640-4000 px: re-quantised GIF frames and a fresh EXIF thumbnail differ
#: by at most 14; a 64 px face added, or any face pasted over another, by 32 or more.
DUPLICATE_DIFF = 20
#: ... and no cell may hold more detail (standard deviation of its grey pixels, DETAIL_PX a side
#: at the smaller picture's resolution) than twice the kept one's plus this: a face pixelated or
#: blurred on the cell grid keeps every cell's mean but loses its detail, so a stale thumbnail or
#: a later page still showing it is checked. Measured on 60 ../shared/faces photos and the groups:
#: fresh 160/320 px thumbnails and re-quantised GIF frames reach 3.8; a thumbnail or page still
#: showing a face pixelated in the photo, 45 or more.
DETAIL_DIFF = 12
DETAIL_PX = 4
#: Pixels at most this opaque are hidden (or nearly) in the photo as shown, but
#: any conversion that drops the alpha channel reveals them.
HIDDEN_ALPHA = 160
#: Below this JPEG quality (libjpeg scale, estimated from the quantization tables)
#: faces are lost: measured on ../shared/faces photos, dlib/CenterFace lost real
#: faces at quality 3 and below and distances grew by up to 0.15 at 5 and below.
MIN_JPEG_QUALITY = 10
#: The standard JPEG luminance table (libjpeg's quality 50), for estimating quality.
_STD_LUMINANCE = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57,
                  69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64,
                  81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)
#: The EXIF orientation tag as Pillow transposes (ImageOps.exif_transpose's table).
_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
              7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}

EXTENSIONS = (".jpg", ".jpeg", ".jfif", ".png", ".webp", ".tif", ".tiff", ".heic", ".heif", ".gif", ".bmp")


@dataclass
class View:
    """Another picture in the same file, or another rendering of the photo, that a viewer can see."""

    label: str  # where it is, for reasons: "frame 3 of 12", "EXIF thumbnail", ...
    rgb: np.ndarray  # height x width x 3, uint8, upright
    picture: bool = True  # a separate picture; False: the photo itself, rendered otherwise
    same_pixels: bool = False  # the photo's own pixel grid rendered otherwise: its faces' boxes are the photo's
    readable: bool = True  # its text is read too (not a smoothed dither: OCR would read noise)


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
    views: list[View] = field(default_factory=list)  # more pixels in the file than the photo as shown
    unchecked: list[str] = field(default_factory=list)  # parts of the file that could not be checked

    def pictures(self, for_text: bool = False) -> list[tuple[str | None, np.ndarray]]:
        """(label, pixels) of the photo as shown (label None) and of every view (``for_text``: those
        whose text is read)."""
        return [(None, self.rgb)] + [(v.label, v.rgb) for v in self.views if v.readable or not for_text]

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
            if _absurd(im):
                raise ImageError(f"{name}: image is {im.width} x {im.height} pixels, longer than {MAX_ASPECT}:1, "
                                 "which no photo is (it would hold a worker for minutes); refused")
            fmt = im.format or "unknown"
            im.load()
            metadata, metadata_error = _metadata(im, name, data)
            orientation = int(im.getexif().get(0x0112, 1) or 1)
            shown = _orient(im, orientation)
            rgb = np.ascontiguousarray(np.asarray(_to_rgb(shown), dtype=np.uint8))
            views, unchecked, texts = find_views(im, shown, rgb, data, name, orientation)
            metadata += texts
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: not an image file consentguard can read") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name}: image is larger than the {MAX_PIXELS // 1_000_000} MP limit "
                         "(possible decompression bomb); refused") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: cannot decode image completely: {exc}") from exc
    return LoadedImage(name=name, sha256=sha256_bytes(data), rgb=rgb, format=fmt, orientation=orientation,
                       metadata=metadata, metadata_error=metadata_error, views=views, unchecked=unchecked)


def _metadata(im, name: str, data: bytes | None = None):
    from consentguard.inspect.metadata import MetadataError, read_metadata

    try:
        return read_metadata(im, data), None
    except MetadataError as exc:
        return [], f"{name}: {exc}: names in it cannot be checked"


def _orient(im: Image.Image, orientation: int) -> Image.Image:
    """``im`` upright as the EXIF orientation tag says (``im`` itself when already upright: a
    12 MP copy costs 20 ms and 36 MB; find_views reads the photo as shown before any frame seek)."""
    method = _TRANSPOSE.get(orientation)
    return im.transpose(method) if method is not None else im


def _absurd(im: Image.Image) -> bool:
    """Longer than MAX_ASPECT:1: no photo is, and decoding one can hold a worker for minutes."""
    return max(im.size) > MAX_ASPECT * max(1, min(im.size))


# -- every pixel a viewer can see ----------------------------------------------------------

class _Views:
    """The extra views found so far, bounded in number and in decoded pixels."""

    def __init__(self, name: str, rgb: np.ndarray):
        self.name = name
        self.rgb = rgb
        self.views: list[View] = []
        self.unchecked: list[str] = []
        self.over: list[str] = []  # distinct views beyond MAX_VIEWS
        self.texts: list = []  # metadata.TextField of embedded and appended pictures
        self.pixels = rgb.shape[0] * rgb.shape[1]
        self._signatures: dict[tuple, tuple] = {}  # (kept picture, cells, px): _signature

    def spend(self, pixels: int) -> bool:
        """Count ``pixels`` more decoded; False if that would pass the MAX_PIXELS total."""
        if self.pixels + pixels > MAX_PIXELS:
            return False
        self.pixels += pixels
        return True

    def add(self, label: str, rgb: np.ndarray, picture: bool = True, dedupe: bool = True,
            compare: np.ndarray | None = None, same_pixels: bool = False, readable: bool = True) -> None:
        """Keep ``rgb`` as a view unless it repeats one kept (``compare``: also compared, e.g. the
        picture without flat bars a camera added; the photo may have such bars itself)."""
        candidates = [rgb] if compare is None or compare.shape == rgb.shape else [rgb, compare]
        signatures: list[dict] = [{} for _ in candidates]  # each candidate's, computed once
        if dedupe and any(self._same(c, mine, k) for c, mine in zip(candidates, signatures)
                          for k in range(len(self.views) + 1)):
            return
        if len(self.views) >= MAX_VIEWS:
            self.over.append(label)
            return
        self.views.append(View(label, np.ascontiguousarray(rgb), picture, same_pixels, readable))

    def _kept(self, k: int) -> np.ndarray:
        return self.rgb if k == 0 else self.views[k - 1].rgb

    def _same(self, rgb: np.ndarray, mine: dict, k: int) -> bool:
        """A near-duplicate of kept picture ``k`` (0: the photo), compared at the detail the
        smaller of the two holds: the same grey in every cell, and no cell with more detail than
        the kept picture's (pixelating or blurring a face keeps each cell's mean, not its detail)."""
        kept = self._kept(k)
        smaller = min(rgb.shape[:2] + kept.shape[:2])
        cells = int(min(128, max(16, smaller // COMPARE_CELL_PX)))
        px = int(min(DETAIL_PX, max(2, smaller // cells)))
        if (k, cells, px) not in self._signatures:
            self._signatures[(k, cells, px)] = _signature(kept, cells, px)
        if (cells, px) not in mine:
            mine[(cells, px)] = _signature(rgb, cells, px)
        (mean, detail), (kept_mean, kept_detail) = mine[(cells, px)], self._signatures[(k, cells, px)]
        return int(np.abs(mean - kept_mean).max()) < DUPLICATE_DIFF and \
            float((detail - 2 * kept_detail).max()) < DETAIL_DIFF

    def problem(self, text: str) -> None:
        self.unchecked.append(f"{self.name}: {text}")

    def finish(self) -> tuple[list[View], list[str], list]:
        if self.over:
            shown = ", ".join(self.over[:3]) + (", ..." if len(self.over) > 3 else "")
            self.problem(f"{len(self.over)} more distinct pictures in the file ({shown}) were not checked "
                         f"(limit {MAX_VIEWS} besides the photo): faces in them cannot be checked")
        return self.views, self.unchecked, self.texts


def find_views(im: Image.Image, shown: Image.Image, rgb: np.ndarray, data: bytes, name: str,
               orientation: int) -> tuple[list[View], list[str], list]:
    """The extra views of a decoded file, the parts that could not be checked, and the
    metadata text of embedded and appended pictures (names there are published too).

    ``im`` is the opened file (first frame loaded), ``shown`` its upright first frame and
    ``rgb`` the photo as shown. Never raises: a part that cannot be read is an unchecked part."""
    found = _Views(name, rgb)
    for step in (_hidden_by_alpha, _smoothed_dither, _exif_thumbnail, _jpeg_quality, _frames, _appended):
        try:
            step(found, im=im, shown=shown, data=data, orientation=orientation)
        except Exception as exc:  # a malformed part: review, never a crash and never a silent pass
            found.problem(f"part of the file could not be examined ({type(exc).__name__}: {exc}): "
                          "pixels in it cannot be checked")
    return found.finish()


def _hidden_by_alpha(found: _Views, shown: Image.Image, **_) -> None:
    """Pixels (nearly) transparent in the photo as shown, revealed by any conversion that drops
    alpha; and a picture drawn in the alpha channel itself, which a dark page shows."""
    if shown.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and not (
            shown.mode in ("P", "L", "RGB") and "transparency" in shown.info):
        return
    if shown.mode == "RGBA" and shown.getextrema()[3][0] == 255:  # fully opaque: nothing is hidden
        return
    rgba = shown.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"))
    hidden = alpha <= HIDDEN_ALPHA
    if hidden.any():
        raw = np.asarray(rgba.convert("RGB"))
        under = raw[hidden]
        if int(np.ptp(under, axis=0).max()) >= DUPLICATE_DIFF:  # not one flat colour under the transparency
            found.add("pixels hidden by transparency", raw, picture=False, same_pixels=True)
    _on_a_dark_page(found, rgba, alpha)


#: An alpha channel with at least this share of its pixels partly transparent inside areas (all
#: four neighbours partly transparent too), in levels spread over DUPLICATE_DIFF or more, has a
#: picture of its own: the anti-aliased rim of a cut-out or a logo is a line, not an area; a face
#: drawn in the alpha channel is nearly all of it.
STRUCTURED_ALPHA_SHARE = 0.05


def _on_a_dark_page(found: _Views, rgba: Image.Image, alpha: np.ndarray) -> None:
    """The photo shown on black (a dark page or theme), when its alpha channel has structure:
    a face drawn in the alpha of an all-white picture is blank on white, plain on black."""
    partial = (alpha > 0) & (alpha < 255)
    inside = partial[1:-1, 1:-1] & partial[:-2, 1:-1] & partial[2:, 1:-1] & partial[1:-1, :-2] & partial[1:-1, 2:]
    if inside.sum() < STRUCTURED_ALPHA_SHARE * alpha.size or int(np.ptp(alpha[partial])) < DUPLICATE_DIFF:
        return
    dark = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("RGB")
    found.add("the picture on a dark background", np.asarray(dark), picture=False, same_pixels=True)


#: A picture of at most this many colours ...
DITHER_COLOURS = 16
#: ... whose neighbouring pixels differ by this much grey on average is dithered: measured on
#: ../shared/faces photos, 1-bit and 3-colour dithers 72-162; the same photos in 8-16 colours
#: without dither and black text on white, 10 or less.
DITHER_CONTRAST = 32


def _smoothed_dither(found: _Views, shown: Image.Image, im: Image.Image, **_) -> None:
    """A dithered picture (whatever its mode: 1-bit, a palette, or the same dots saved as RGB):
    a person sees the face, the detector sees dots."""
    if im.format in ("JPEG", "MPO") or shown.mode not in ("1", "L", "P", "LA", "PA", "RGB", "RGBA"):
        return  # lossy (never a handful of colours), or more than 8 bits a channel (not dithered)
    colours = shown.getcolors(DITHER_COLOURS)
    if colours is None or len(colours) < 2:  # many colours, or one flat colour: nothing to smooth
        return
    grey = shown.convert("L")
    if float(np.abs(np.diff(np.asarray(grey, dtype=np.int16), axis=1)).mean()) < DITHER_CONTRAST:
        return
    smooth = grey.filter(ImageFilter.GaussianBlur(_SMOOTH_RADIUS))
    found.add("dithered image smoothed for face detection", np.asarray(smooth.convert("RGB")), picture=False,
              same_pixels=True, readable=False,
              dedupe=False)


#: Blur radius that turns dithering back into grey levels. Measured on ../shared/faces photos
#: dithered at 400-1600 px: as dots, 0 of 9 faces found; blurred by 1-1.5 px, all found, at the
#: same distance from the portrait as the original photo (0.34-0.41); 3 px drifts (up to 0.66).
_SMOOTH_RADIUS = 1.5


def _exif_thumbnail(found: _Views, im: Image.Image, orientation: int, **_) -> None:
    """The small copy cameras store in EXIF, left stale when an editor crops someone out."""
    raw = im.info.get("exif")
    if not raw:
        return
    ifd1 = im.getexif().get_ifd(ExifTags.IFD.IFD1)
    offset, length = ifd1.get(0x0201), ifd1.get(0x0202)
    if not offset or not length:
        return
    tiff = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
    thumb = tiff[offset:offset + length]
    if len(thumb) != length:
        found.problem("the EXIF thumbnail is cut short: it cannot be checked")
        return
    picture = _decode_part(found, thumb, "the EXIF thumbnail", orientation)
    if picture is not None:
        found.add("EXIF thumbnail", picture, picture=False, compare=_trim_bars(picture))


def _trim_bars(rgb: np.ndarray) -> np.ndarray:
    """Without the flat bars some cameras put around a 4:3 thumbnail of a 3:2 photo (so a
    fresh thumbnail is seen to repeat the photo, and costs nothing)."""
    grey = rgb.astype(np.int16).sum(axis=2)
    busy_rows = np.flatnonzero(np.ptp(grey, axis=1) >= 3 * DUPLICATE_DIFF)
    busy_cols = np.flatnonzero(np.ptp(grey, axis=0) >= 3 * DUPLICATE_DIFF)
    if not len(busy_rows) or not len(busy_cols):
        return rgb
    return rgb[busy_rows[0]:busy_rows[-1] + 1, busy_cols[0]:busy_cols[-1] + 1]


def jpeg_quality(quantization: dict | None) -> int | None:
    """libjpeg-equivalent quality (1-100) of a JPEG's luminance table, or None.

    Compares sorted values, so it does not depend on the table's order; values clamped at
    255 (quality below about 10) are left out, and a table of nothing else is quality 1."""
    if not quantization:
        return None
    table = sorted(quantization.get(0) or next(iter(quantization.values())))
    if len(table) != 64:
        return None
    pairs = [(t, s) for t, s in zip(table, sorted(_STD_LUMINANCE)) if t < 255]
    if not pairs:
        return 1
    scale = 100.0 * sum(t for t, _ in pairs) / sum(s for _, s in pairs)  # libjpeg's scaling percentage
    quality = 5000.0 / scale if scale > 100 else (200.0 - scale) / 2
    return max(1, min(100, round(quality)))


def _jpeg_quality(found: _Views, im: Image.Image, data: bytes, where: str | None = None, **_) -> None:
    """A JPEG (or an image of an MPO), or a TIFF page with JPEG compression, below
    MIN_JPEG_QUALITY (``where``: which frame, None for the photo as shown)."""
    tables, what = getattr(im, "quantization", None), "JPEG"
    if not tables and im.format == "TIFF":
        tables, what = _tiff_jpeg_tables(im, data), "TIFF's JPEG-compressed image"
    quality = jpeg_quality(tables)
    if quality is not None and quality < MIN_JPEG_QUALITY:
        found.problem(f"{'the ' + what if where is None else where + ' (' + what + ')'} is compressed so heavily "
                      f"(quality about {quality}, faces are lost below {MIN_JPEG_QUALITY}) that faces in it "
                      "cannot be detected reliably: check it by eye")


def _tiff_jpeg_tables(im: Image.Image, data: bytes) -> dict | None:
    """The quantization tables of a JPEG-compressed TIFF (first page): from its JPEGTables tag,
    or else from the first strip or tile, which is then a whole JPEG."""
    tags = im.tag_v2
    if tags.get(259) not in (6, 7):  # old-style and new-style JPEG compression
        return None
    blob = tags.get(347)
    if not blob:
        offsets = tags.get(273) or tags.get(324) or tags.get(513)
        counts = tags.get(279) or tags.get(325) or tags.get(514)
        first = lambda v: v[0] if isinstance(v, (tuple, list)) else v  # noqa: E731
        if offsets is None or counts is None:
            return None
        blob = data[first(offsets):first(offsets) + first(counts)]
    return dqt_tables(bytes(blob)) or None


def dqt_tables(blob: bytes) -> dict[int, list[int]]:
    """The quantization tables (by table number) in the DQT segments of JPEG bytes, before the
    first scan."""
    tables: dict[int, list[int]] = {}
    stop = blob.find(b"\xff\xda")
    stop = len(blob) if stop < 0 else stop
    pos = blob.find(b"\xff\xdb")
    while 0 <= pos < stop:
        segment = blob[pos + 4:pos + 2 + int.from_bytes(blob[pos + 2:pos + 4], "big")]
        i = 0
        while i < len(segment):
            wide, number = segment[i] >> 4, segment[i] & 15
            raw = segment[i + 1:i + 1 + 64 * (1 + wide)]
            tables[number] = [int.from_bytes(raw[j:j + 2], "big") for j in range(0, len(raw), 2)] if wide \
                else list(raw)
            i += 1 + 64 * (1 + wide)
        pos = blob.find(b"\xff\xdb", pos + 2)
    return tables


def _frames(found: _Views, im: Image.Image, orientation: int, data: bytes, **_) -> None:
    """Every frame of an animation, page of a TIFF, image of an MPO (sampled past MAX_FRAMES)."""
    count = getattr(im, "n_frames", 1)
    if count <= 1:
        return
    fmt = im.format
    label = {"TIFF": "page {} of {}", "MPO": "image {} of the MPO file",
             "HEIF": "image {} of {}"}.get(fmt, "frame {} of {}")
    indexes = list(range(1, count))
    if count > MAX_FRAMES:
        indexes = sorted({round(k * (count - 1) / (MAX_FRAMES - 1)) for k in range(1, MAX_FRAMES)})
        found.problem(f"has {count} frames; {len(indexes) + 1} of them, evenly spread, were checked, "
                      "the others were not")
    # an animation decodes every frame up to the one asked for, all of the canvas's size;
    # pages and MPO images are read one by one, each its own size
    sequential = fmt not in ("TIFF", "MPO", "HEIF")
    canvas, last = im.width * im.height, 0
    for i in indexes:
        where = label.format(i + 1, count)
        try:
            if sequential and not found.spend(canvas * (i - last)):
                raise _OverBudget
            im.seek(i)
            if not sequential and not found.spend(im.width * im.height):
                raise _OverBudget
            if _absurd(im):
                found.problem(f"{where} is {im.width} x {im.height} pixels, longer than {MAX_ASPECT}:1: "
                              "not decoded, so faces in it cannot be checked")
                continue
            im.load()
            frame = np.asarray(_to_rgb(_orient(im, orientation)), dtype=np.uint8)
            if not sequential:  # pages and MPO images have their own compression
                _jpeg_quality(found, im, data, where)
        except _OverBudget:
            found.problem(f"{where} and those after it were not checked: the file holds more than "
                          f"{MAX_PIXELS // 1_000_000} MP in total")
            return
        except Exception as exc:
            found.problem(f"{where} (and any after it) cannot be decoded ({exc}): faces in it cannot be checked")
            return
        last = i
        found.add(where, frame)


class _OverBudget(Exception):
    """Decoding more would pass the MAX_PIXELS total."""


def _signature(rgb: np.ndarray, cells: int, px: int) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's mean grey and detail (standard deviation of its ``px`` x ``px`` grey pixels):
    enough to tell a changed scene, or a face pixelated or blurred away, from a repeat."""
    grey = Image.fromarray(rgb).convert("L")
    mean = np.asarray(grey.resize((cells, cells), Image.Resampling.BOX), dtype=np.int16)
    blocks = np.asarray(grey.resize((cells * px, cells * px), Image.Resampling.BOX), dtype=np.float32)
    return mean, blocks.reshape(cells, px, cells, px).std(axis=(1, 3))


def _decode_part(found: _Views, blob: bytes, what: str, orientation: int | None = None) -> np.ndarray | None:
    """An embedded or appended picture as upright RGB, or None (with the problem noted)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            part = Image.open(io.BytesIO(blob))
            if _absurd(part):
                found.problem(f"{what} is {part.width} x {part.height} pixels, longer than {MAX_ASPECT}:1: "
                              "not decoded, so faces in it cannot be checked")
                return None
            if not found.spend(part.width * part.height):
                found.problem(f"{what} was not checked: the file holds more than "
                              f"{MAX_PIXELS // 1_000_000} MP in total")
                return None
            part.load()
            _part_metadata(found, part, blob, what)
            if orientation is None:
                orientation = int(part.getexif().get(0x0112, 1) or 1)
            return np.asarray(_to_rgb(_orient(part, orientation)), dtype=np.uint8)
    except Exception as exc:
        found.problem(f"{what} cannot be decoded ({exc}): faces in it cannot be checked")
        return None


def _part_metadata(found: _Views, part: Image.Image, blob: bytes, what: str) -> None:
    """Captions and comments of an embedded picture, named after where it is (region boxes
    dropped: they are in that picture's pixels, not the photo's)."""
    from dataclasses import replace

    from consentguard.inspect.metadata import MetadataError, read_metadata

    try:
        texts = read_metadata(part, blob)
    except MetadataError as exc:
        found.problem(f"{what}: {exc}: names in it cannot be checked")
        return
    found.texts += [replace(t, field=f"{t.field} ({what})", box=None) for t in texts]


# -- data after the end of the image -------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def jpeg_end(data: bytes, start: int = 0) -> int | None:
    """Offset just past the EOI marker of the JPEG at ``start`` (segment lengths followed,
    so a thumbnail inside EXIF does not end it early; stray bytes between segments skipped as
    libjpeg does), or None if it has none."""
    if data[start:start + 2] != b"\xff\xd8":
        return None
    pos, size = start + 2, len(data)
    while pos + 2 <= size:
        if data[pos] != 0xFF:  # stray bytes between segments: libjpeg skips to the next marker, so do we
            pos = data.find(b"\xff", pos)
            if pos < 0:
                return None
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0x00:  # not a marker: stray bytes too
            pos += 2
        elif marker == 0xD9:
            return pos + 2
        elif marker == 0xD8:  # another image starts: this one ended without its EOI
            return pos
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
        else:
            if pos + 4 > size:
                return None
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
            if marker == 0xDA:  # entropy-coded data: runs to the next marker that is not a restart
                pos = _next_marker(data, pos)
    return None


def _next_marker(data: bytes, pos: int) -> int:
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        follower = data[pos + 1]
        if follower == 0xFF:
            pos += 1
        elif follower == 0x00 or 0xD0 <= follower <= 0xD7:
            pos += 2
        else:
            return pos


def png_end(data: bytes, start: int = 0) -> int | None:
    """Offset just past the IEND chunk of the PNG at ``start``, or None."""
    if data[start:start + 8] != PNG_SIGNATURE:
        return None
    pos = start + 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos if pos <= len(data) else None
    return None


#: The chunks of a WebP file (image data, animation, alpha, colour profile, metadata).
_WEBP_CHUNKS = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP", b"EXIF", b"XMP "}


def riff_end(data: bytes) -> int | None:
    """Offset just past the last WebP chunk, walked chunk by chunk (the RIFF header's size alone
    could also cover a picture wrapped in an unknown chunk); at an unknown chunk, the offset of
    its data, so what it holds is checked like data after the end. None if the walk fails."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    size = int.from_bytes(data[4:8], "little")
    limit = 8 + size + (size & 1)
    if limit > len(data):
        return None
    pos = 12
    while pos + 8 <= limit:
        if data[pos:pos + 4] not in _WEBP_CHUNKS:
            return pos + 8
        length = int.from_bytes(data[pos + 4:pos + 8], "little")
        pos += 8 + length + (length & 1)
    return pos if pos <= len(data) else None


def bmp_end(data: bytes) -> int | None:
    """Offset just past a BMP's pixel data (and colour profile), as its info header gives them;
    not its bfSize, which nothing reading the picture checks."""
    if data[:2] != b"BM" or len(data) < 26:
        return None
    u32 = lambda at: int.from_bytes(data[at:at + 4], "little")  # noqa: E731
    pixels, header = u32(10), u32(14)
    if header == 12:  # OS/2 core header
        width, height, bits, compression, size = (int.from_bytes(data[18:20], "little"),
                                                   int.from_bytes(data[20:22], "little"),
                                                   int.from_bytes(data[24:26], "little"), 0, 0)
    elif header >= 40 and len(data) >= 54:
        width = int.from_bytes(data[18:22], "little", signed=True)
        height = int.from_bytes(data[22:26], "little", signed=True)
        bits, compression, size = int.from_bytes(data[28:30], "little"), u32(30), u32(34)
    else:
        return None
    stride = (abs(width) * bits + 31) // 32 * 4
    end = pixels + (stride * abs(height) if compression in (0, 3, 6) else size)
    if header >= 124 and len(data) >= 14 + 124:  # V5: an embedded colour profile, placed anywhere
        profile_at, profile_size = u32(14 + 112), u32(14 + 116)
        if profile_size:
            end = max(end, 14 + profile_at + profile_size)
    return end if end <= len(data) else None


#: Bytes per value of each TIFF field type.
_TIFF_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4,
                   16: 8, 17: 8, 18: 8}
#: Tags whose values are offsets of further IFDs (SubIFDs, EXIF, GPS, Interoperability).
_TIFF_SUB_IFDS = (330, 34665, 34853, 40965)
#: (offsets, byte counts) tag pairs of image data: strips, tiles, an old-style JPEG.
_TIFF_DATA = ((273, 279), (324, 325), (513, 514))
#: A TIFF with more IFDs than this is not walked to its end.
MAX_TIFF_IFDS = 4096


def tiff_end(data: bytes) -> int | None:
    """Offset just past the furthest byte any IFD of a TIFF (pages, sub-IFDs, EXIF, GPS), any of
    their values, strips or tiles use, or None if the structure cannot be walked."""
    return _tiff_walk(data)[0]


def tiff_pictures(data: bytes) -> list[tuple[int, int, int]]:
    """(tag, offset, size) of every tag value of a TIFF that is itself a picture (a JPEG or a PNG
    stored in a private tag is inside the file, but no page shows it); not the JPEGTables tag."""
    return [(tag, at, size) for tag, at, size in _tiff_walk(data)[1]
            if tag != 347 and data[at:at + 8].startswith((b"\xff\xd8\xff", PNG_SIGNATURE))]


def _tiff_walk(data: bytes) -> tuple[int | None, list[tuple[int, int, int]]]:
    """tiff_end, and (tag, offset, size) of every value stored outside its IFD entry."""
    order = {b"II": "little", b"MM": "big"}.get(data[:2])
    if order is None or len(data) < 8:
        return None, []
    num = lambda at, n: int.from_bytes(data[at:at + n], order)  # noqa: E731
    big = num(2, 2) == 43
    if big:  # BigTIFF: 8-byte offsets and counts, 20-byte entries
        count_size, entry_size, field, queue, end = 8, 20, 8, [num(8, 8)], 16
    elif num(2, 2) == 42:
        count_size, entry_size, field, queue, end = 2, 12, 4, [num(4, 4)], 8
    else:
        return None, []
    seen: set[int] = set()
    outside: list[tuple[int, int, int]] = []
    while queue:
        ifd = queue.pop()
        if not ifd or ifd in seen:
            continue
        if len(seen) >= MAX_TIFF_IFDS or ifd + count_size > len(data):
            return None, outside
        seen.add(ifd)
        entries = num(ifd, count_size)
        first = ifd + count_size
        after = first + entries * entry_size
        end = max(end, after + field)
        values: dict[int, list[int]] = {}
        for k in range(entries):
            at = first + k * entry_size
            tag, kind, count = num(at, 2), num(at + 2, 2), num(at + 4, field)
            size = _TIFF_TYPE_SIZE.get(kind, 1) * count
            where = at + 4 + field if size <= field else num(at + 4 + field, field)
            end = max(end, where + size)
            if size > field:
                outside.append((tag, where, size))
            if kind in (3, 4, 13, 16, 18) and (tag in _TIFF_SUB_IFDS or any(tag in pair for pair in _TIFF_DATA)):
                width = _TIFF_TYPE_SIZE[kind]
                values[tag] = [num(where + width * i, width) for i in range(min(count, len(data)))]
        queue.append(num(after, field))
        queue += [o for tag in _TIFF_SUB_IFDS for o in values.get(tag, [])]
        for offsets, counts in _TIFF_DATA:
            for offset, length in zip(values.get(offsets, []), values.get(counts, [])):
                end = max(end, offset + length)
    return (end if end <= len(data) else None), outside


def _image_end(im: Image.Image, data: bytes) -> tuple[int | None, str | None]:
    """Where the picture ends in ``data`` (None: not found) and what to call it; (None, None)
    for formats whose end is not looked for."""
    fmt = im.format
    if fmt in ("JPEG", "MPO"):
        return jpeg_end(data), "JPEG"
    if fmt == "PNG":
        return png_end(data), "PNG"
    if fmt == "GIF":
        return gif_blocks(data)[0], "GIF"
    if fmt == "WEBP":
        return riff_end(data), "WebP"
    if fmt == "BMP":
        return bmp_end(data), "BMP"
    if fmt == "TIFF":
        return tiff_end(data), "TIFF"
    return None, None


def _mpo_offsets(im: Image.Image) -> set[int]:
    """Where the MPF index of an MPO says its own images start (read as frames already)."""
    try:
        base = im.info["mpoffset"]
        return {base + entry["DataOffset"] for entry in im.mpinfo[0xB002] if entry["DataOffset"]}
    except (AttributeError, KeyError, TypeError):
        return set()


def _appended(found: _Views, im: Image.Image, data: bytes, **_) -> None:
    """Whatever follows the end of a JPEG, PNG, GIF, WebP, BMP or TIFF: another image is checked
    (up to MAX_FRAMES of them), a ZIP is opened, anything else is named."""
    end, kind = _image_end(im, data)
    if kind is None:
        return
    if end is None:
        found.problem(f"the end of the {kind} could not be found, so data after it (if any) was not checked")
        return
    if im.format == "TIFF":
        _in_tiff_tags(found, data)
    own = _mpo_offsets(im) if im.format == "MPO" else set()  # the MPO's own images, already frames
    number = 0
    while end is not None and end < len(data):
        start = len(data) - len(data[end:].lstrip(b"\x00"))
        if start >= len(data):
            return  # zero padding: common and harmless
        head = data[start:start + 8]
        if head.startswith(b"\xff\xd8\xff"):
            end = jpeg_end(data, start)
            if start in own:
                continue
        elif head == PNG_SIGNATURE:
            end = png_end(data, start)
        elif head.startswith(b"PK\x03\x04"):
            _appended_zip(found, data[start:], kind)
            return
        else:
            found.problem(_describe_trailer(data[end:], kind))  # from the end: a video's box size starts 00
            return
        number += 1
        if number > MAX_FRAMES:
            found.problem(f"more than {MAX_FRAMES} images follow the end of the {kind}: the others were not checked")
            return
        where = f"image {number} appended after the end of the {kind}" if number > 1 else \
            f"image appended after the end of the {kind}"
        picture = _decode_part(found, data[start:end] if end is not None else data[start:], f"the {where}")
        if picture is not None:
            found.add(where, picture)


def _in_tiff_tags(found: _Views, data: bytes) -> None:
    """Pictures stored as the value of a TIFF tag: checked like appended ones."""
    pictures = tiff_pictures(data)
    if len(pictures) > MAX_FRAMES:
        found.problem(f"{len(pictures) - MAX_FRAMES} more pictures stored in TIFF tags were not checked "
                      f"(limit {MAX_FRAMES}): faces in them cannot be checked")
    for tag, at, size in pictures[:MAX_FRAMES]:
        where = f"image in TIFF tag {tag}"
        picture = _decode_part(found, data[at:at + size], f"the {where}")
        if picture is not None:
            found.add(where, picture)


#: A ZIP appended to an image: at most this many of its files are looked at.
MAX_ZIP_FILES = 16
#: ... and files larger than this (uncompressed) are not unpacked (a ZIP bomb stays small on disk).
MAX_ZIP_FILE_BYTES = 100_000_000


def _appended_zip(found: _Views, tail: bytes, kind: str) -> None:
    """A ZIP after the image (a "polyglot" file): its pictures are checked like appended
    images; anything else in it (or a damaged archive) is named as not checked."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(tail))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except Exception:
        found.problem(_describe_trailer(tail, kind))
        return
    others = [m.filename for m in members[MAX_ZIP_FILES:]]
    for member in members[:MAX_ZIP_FILES]:
        if not member.filename.lower().endswith(EXTENSIONS) or member.file_size > MAX_ZIP_FILE_BYTES:
            others.append(member.filename)
            continue
        where = f"{member.filename} in the ZIP archive appended after the end of the {kind}"
        try:
            blob = archive.read(member)
        except Exception as exc:
            found.problem(f"{where} cannot be read ({exc}): faces in it cannot be checked")
            continue
        picture = _decode_part(found, blob, where)
        if picture is not None:
            found.add(where, picture)
    if others:
        listing = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        found.problem(f"{len(tail):,} bytes after the end of the {kind} are a ZIP archive whose "
                      f"{len(others)} other file(s) ({listing}) were not checked")


def _describe_trailer(tail: bytes, kind: str) -> str:
    """A reason for data after the image that is not an image."""
    size = f"{len(tail):,} bytes"
    if tail.startswith(b"PK\x03\x04"):
        what = "a damaged ZIP archive"
    elif tail[4:8] == b"ftyp":
        what = "an MP4/MOV video (e.g. a phone's motion photo)"
    else:
        what = f"unknown data, starting {tail[:8].hex(' ')}"
    return f"{size} after the end of the {kind} are {what}: they may hold pictures and were not checked"
