"""Image inspection, step 4: text inside the photo (certificates, name tags, slides, jerseys).

PaddleOCR's PP-OCRv4 text detection and recognition models and its 180-degree
orientation model (Apache-2.0, ONNX files shipped in ``consentguard/weights/``)
run offline with ONNX Runtime. The pipeline around them is ours and small:

1. the photo is shrunk so its long side is at most ``OCR_SIDE[mode]`` pixels (settings
   ocr_side and ocr_side_thorough);
2. the detector gives a map of how likely each pixel is text; pixels above
   ``PIXEL_THRESHOLD`` form regions, each region's smallest turned rectangle
   whose mean likelihood reaches ``BOX_THRESHOLD`` is a text line, grown by
   ``UNCLIP`` (the detector is trained on shrunk line boxes);
3. each line is cut out straight, turned upright if the orientation model is
   sure it is upside down, and read by the recogniser (CTC: best character per
   column, repeats and blanks dropped); lines read with a mean confidence under
   ``TEXT_SCORE`` are dropped.

The settings are those the models were published with (and that RapidOCR
1.4.4, which consentguard used before, applies): on the test scenes and real
group photos the lines, boxes and scores are the same as RapidOCR's, and on
one core it is about 15% faster (models/README.md). Measured on a 12 MP scene
(scripts/bench_ocr.py, one core):

=========  ==============  ============  ==================================
mode       long side       seconds       smallest font read in a 12 MP photo
=========  ==============  ============  ==================================
default    1,600 px        1.0           28 px (20 px straight text)
thorough   2,600 px        3.2           16 px
=========  ==============  ============  ==================================

Lines are returned in reading order with their boxes in photo pixels.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from consentguard.errors import ModelError
from consentguard.models import OCR_DETECTOR, OCR_ORIENTATION, OCR_RECOGNISER, weight_path
from consentguard.policy import Policy

OCR_SIDE = Policy().ocr_sides  # the defaults (a check passes its own Policy's)
MIN_SIDE = 30            # a thinner photo is enlarged to this first
WIDE = 8                 # a photo wider than 8:1 (or at most 30 px high) gets black bands above and below
DETECT_MIN_SIDE = 736    # the detector sees the short side at least this long
PIXEL_THRESHOLD = 0.3
BOX_THRESHOLD = 0.5
UNCLIP = 1.6
MAX_LINES = 1000
LINE_HEIGHT = 48         # the recogniser's and the orientation model's input height
ORIENTATION_WIDTH = 192
FLIP_SCORE = 0.9         # turn a line over only when the orientation model is this sure
TEXT_SCORE = 0.5
BATCH = 6
SAME_ROW = 10            # lines whose tops are this close (pixels) are one row, read left to right


@dataclass
class OcrLine:
    text: str
    box: tuple[int, int, int, int]  # left, top, right, bottom in photo pixels
    score: float


class _Models:
    """The three ONNX Runtime sessions and the recogniser's alphabet, loaded once."""

    def __init__(self) -> None:
        try:
            import cv2  # noqa: F401
            import onnxruntime
            import pyclipper  # noqa: F401
        except ImportError as exc:
            raise ModelError(f"a text reading library cannot be imported ({exc}), so text in photos cannot "
                             "be read; reinstall consentguard (or turn OCR off with --no-ocr)") from exc
        # Nothing leaves the machine: ONNX Runtime's telemetry (a no-op on Linux builds, an ETW
        # provider on Windows) is switched off before the first session.
        onnxruntime.disable_telemetry_events()
        options = onnxruntime.SessionOptions()
        threads = int(os.environ.get("CONSENTGUARD_OCR_THREADS", "0"))
        options.intra_op_num_threads = options.inter_op_num_threads = max(threads, 0)

        def session(name: str):
            path = weight_path(name)
            try:
                return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own exception types
                raise ModelError(f"{path}: the text reading model cannot be loaded: {exc}") from exc

        self.detector = session(OCR_DETECTOR)
        self.orientation = session(OCR_ORIENTATION)
        self.recogniser = session(OCR_RECOGNISER)
        # The alphabet is stored in the model file; index 0 is CTC's blank, the last a space.
        alphabet = self.recogniser.get_modelmeta().custom_metadata_map["character"].splitlines()
        self.alphabet = ["", *alphabet, " "]

    def run(self, session, batch: np.ndarray) -> np.ndarray:
        return session.run(None, {session.get_inputs()[0].name: batch})[0]


@lru_cache(maxsize=1)
def _models() -> _Models:
    return _Models()


def read_text(rgb: np.ndarray, mode: str = "default", sides: dict[str, int] = OCR_SIDE) -> list[OcrLine]:
    """Every line of text read in ``rgb``, in reading order (``sides``: a Policy's ``ocr_sides``).
    At most MAX_LINES regions are read: a check uses :func:`read_lines`, which says how many were not."""
    return read_lines(rgb, mode, sides)[0]


def read_lines(rgb: np.ndarray, mode: str = "default",
               sides: dict[str, int] = OCR_SIDE) -> tuple[list[OcrLine], int]:
    """The lines of :func:`read_text`, and how many text regions past MAX_LINES were not read
    (a photo with that many is not fully checked: its caller must say so, never pass it)."""
    models = _models()
    small, (ratio_x, ratio_y), top = _prepare(rgb, sides[mode])
    found, unread = _detect(models, small)
    quads = _reading_order(found)
    crops = [_upright(_cut(small, quad)) for quad in quads]
    crops = _turn_over(models, crops)
    lines = []
    for quad, (text, score) in zip(quads, _recognise(models, crops)):
        if score < TEXT_SCORE:
            continue
        xs = np.clip(quad[:, 0] * ratio_x, 0, rgb.shape[1])
        ys = np.clip((quad[:, 1] - top) * ratio_y, 0, rgb.shape[0])
        box = (int(xs.min()), int(ys.min()), int(round(xs.max())), int(round(ys.max())))
        lines.append(OcrLine(text, box, score))
    return lines, unread


def _prepare(rgb: np.ndarray, side: int) -> tuple[np.ndarray, tuple[float, float], int]:
    """The photo at the size the detector works on (sides a multiple of 32), the ratios back to
    photo pixels, and the height of the band added on top of a very wide or very low photo."""
    import cv2

    h, w = rgb.shape[:2]
    new_w, new_h = w, h
    if max(h, w) > side or min(h, w) < MIN_SIDE:
        scale = side / max(h, w) if max(h, w) > side else 1.0
        scale = max(scale, MIN_SIDE / min(h, w))
        new_w, new_h = (max(32, round(int(n * scale) / 32) * 32) for n in (w, h))
    small = rgb if (new_w, new_h) == (w, h) else cv2.resize(rgb, (new_w, new_h))
    top = 0
    if new_h <= MIN_SIDE or new_w / new_h > WIDE:
        top = abs(max(int(new_w / WIDE), MIN_SIDE) * 2 - new_h) // 2
        small = cv2.copyMakeBorder(small, top, top, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    return small, (w / new_w, h / new_h), top


def _normalise(image: np.ndarray) -> np.ndarray:
    """Pixels to the models' input: channels first, -1 to 1."""
    return (image.astype(np.float32).transpose(2, 0, 1) / 127.5) - 1.0


def _detect(models: _Models, image: np.ndarray) -> tuple[list[np.ndarray], int]:
    """Text lines as quadrilaterals (top-left, top-right, bottom-right, bottom-left) in ``image`` pixels,
    and how many regions past the first MAX_LINES were not looked at."""
    import cv2

    h, w = image.shape[:2]
    scale = max(1.0, DETECT_MIN_SIDE / min(h, w))
    net_w, net_h = (max(32, round(int(n * scale) / 32) * 32) for n in (w, h))
    seen = cv2.resize(image, (net_w, net_h)) if (net_w, net_h) != (w, h) else image
    likely = models.run(models.detector, _normalise(seen)[None])[0, 0]
    mask = cv2.dilate((likely > PIXEL_THRESHOLD).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    quads = []
    for contour in contours[:MAX_LINES]:
        rect = cv2.minAreaRect(contour)
        if min(rect[1]) < 3 or _mean_inside(likely, cv2.boxPoints(rect)) < BOX_THRESHOLD:
            continue
        rect = cv2.minAreaRect(_grown(cv2.boxPoints(rect)))
        if min(rect[1]) < 5:
            continue
        quad = _corners(cv2.boxPoints(rect)) * (w / net_w, h / net_h)
        quad = np.clip(np.round(quad), 0, (w - 1, h - 1)).astype(np.float32)
        if np.linalg.norm(quad[0] - quad[1]) > 3 and np.linalg.norm(quad[0] - quad[3]) > 3:
            quads.append(quad)
    return quads, max(0, len(contours) - MAX_LINES)


def _mean_inside(likely: np.ndarray, points: np.ndarray) -> float:
    """Mean text likelihood inside a polygon (over its bounding box's pixels inside it)."""
    import cv2

    x0, y0 = np.clip(np.floor(points.min(axis=0)).astype(int), 0, None)
    x1, y1 = np.minimum(np.ceil(points.max(axis=0)).astype(int), (likely.shape[1] - 1, likely.shape[0] - 1))
    inside = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(inside, [(points - (x0, y0)).astype(np.int32)], 1)
    return cv2.mean(likely[y0:y1 + 1, x0:x1 + 1], inside)[0]


def _grown(points: np.ndarray) -> np.ndarray:
    """The rectangle pushed outwards by area × UNCLIP / perimeter (rounded corners)."""
    import cv2
    import pyclipper

    distance = cv2.contourArea(points) * UNCLIP / cv2.arcLength(points, True)
    offset = pyclipper.PyclipperOffset()
    offset.AddPath([tuple(p) for p in points.astype(np.float64)], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return np.array(offset.Execute(distance)[0], dtype=np.float32)


def _corners(points: np.ndarray) -> np.ndarray:
    """Four corners ordered top-left, top-right, bottom-right, bottom-left."""
    by_x = points[np.argsort(points[:, 0], kind="stable")]
    (tl, bl), (tr, br) = (pair[np.argsort(pair[:, 1], kind="stable")] for pair in (by_x[:2], by_x[2:]))
    return np.array([tl, tr, br, bl], dtype=np.float32)


def _reading_order(quads: list[np.ndarray]) -> list[np.ndarray]:
    """Top to bottom; lines whose tops are within SAME_ROW pixels left to right."""
    rows: list[list[np.ndarray]] = []
    for quad in sorted(quads, key=lambda q: (q[0][1], q[0][0])):
        if rows and quad[0][1] - rows[-1][-1][0][1] < SAME_ROW:
            rows[-1].append(quad)
        else:
            rows.append([quad])
    return [quad for row in rows for quad in sorted(row, key=lambda q: q[0][0])]


def _cut(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The line straightened out of the photo."""
    import cv2

    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    return cv2.warpPerspective(image, cv2.getPerspectiveTransform(quad, target), (width, height),
                               borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)


def _upright(crop: np.ndarray) -> np.ndarray:
    """A line much taller than wide is written downwards: turn it a quarter."""
    return np.ascontiguousarray(np.rot90(crop)) if crop.shape[0] >= 1.5 * crop.shape[1] else crop


def _fitted(crop: np.ndarray, width: int) -> np.ndarray:
    """The crop at LINE_HEIGHT, its aspect kept (at most ``width``), padded on the right."""
    import cv2

    fit = min(width, math.ceil(LINE_HEIGHT * crop.shape[1] / crop.shape[0]))
    out = np.zeros((3, LINE_HEIGHT, width), np.float32)
    out[:, :, :fit] = _normalise(cv2.resize(crop, (fit, LINE_HEIGHT)))
    return out


def _batches(crops: list[np.ndarray]):
    """Indexes of the crops in batches of similar aspect (less padding per batch)."""
    order = np.argsort([c.shape[1] / c.shape[0] for c in crops], kind="stable")
    for start in range(0, len(order), BATCH):
        yield order[start:start + BATCH]


def _turn_over(models: _Models, crops: list[np.ndarray]) -> list[np.ndarray]:
    """Lines the orientation model is sure are upside down, turned right way up."""
    crops = list(crops)
    for batch in _batches(crops):
        scores = models.run(models.orientation, np.stack([_fitted(crops[i], ORIENTATION_WIDTH) for i in batch]))
        for i, (_, upside_down) in zip(batch, scores):
            if upside_down > FLIP_SCORE:
                crops[i] = np.ascontiguousarray(np.rot90(crops[i], 2))
    return crops


def _recognise(models: _Models, crops: list[np.ndarray]) -> list[tuple[str, float]]:
    """Each crop's text and mean character confidence."""
    results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
    for batch in _batches(crops):
        ratio = max([320 / LINE_HEIGHT] + [crops[i].shape[1] / crops[i].shape[0] for i in batch])
        width = int(LINE_HEIGHT * ratio)
        probs = models.run(models.recogniser, np.stack([_fitted(crops[i], width) for i in batch]))
        for i, columns in zip(batch, probs):
            results[i] = _decode(models.alphabet, columns)
    return results


def _decode(alphabet: list[str], columns: np.ndarray) -> tuple[str, float]:
    """CTC greedy decoding: the best character per column, repeats merged, blanks dropped."""
    best = columns.argmax(axis=1)
    keep = best != 0
    keep[1:] &= best[1:] != best[:-1]
    confidence = columns.max(axis=1)[keep]
    return "".join(alphabet[i] for i in best[keep]), float(confidence.mean()) if confidence.size else 0.0


def joined(lines: list[OcrLine]) -> tuple[str, list[tuple[int, int, OcrLine]]]:
    """All lines as one text (a name split over two boxes is found whole), with each
    line's span in it."""
    parts, spans, pos = [], [], 0
    for line in lines:
        spans.append((pos, pos + len(line.text), line))
        parts.append(line.text)
        pos += len(line.text) + 1
    return " ".join(parts), spans


def box_of(spans: list[tuple[int, int, OcrLine]], start: int, end: int) -> tuple[int, int, int, int] | None:
    """The union of the boxes of the lines a character range of :func:`joined` text touches."""
    boxes = [line.box for s, e, line in spans if s < end and start < e]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
