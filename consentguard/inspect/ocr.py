"""Image inspection, step 4: text inside the photo (certificates, name tags, slides, jerseys).

RapidOCR (PP-OCRv4 detection and recognition models, Apache-2.0) runs the ONNX
models that ship inside the ``rapidocr_onnxruntime`` wheel on PyPI, offline.
The photo is shrunk so its long side is at most ``OCR_SIDE[mode]`` pixels (settings
ocr_side and ocr_side_thorough) for detection; measured on a 12 MP scene (scripts/bench_ocr.py, one core):

=========  ==============  ============  ==================================
mode       long side       seconds       smallest font read in a 12 MP photo
=========  ==============  ============  ==================================
default    1,600 px        1.0           28 px (20 px straight text)
thorough   2,600 px        3.2           16 px
=========  ==============  ============  ==================================

Lines are returned in reading order with their boxes in photo pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from consentguard.errors import ModelError
from consentguard.policy import DEFAULTS

OCR_SIDE = {"default": DEFAULTS["ocr_side"], "thorough": DEFAULTS["ocr_side_thorough"]}
INSTALL_OCR = "pip install --no-deps rapidocr-onnxruntime==1.4.4"


@dataclass
class OcrLine:
    text: str
    box: tuple[int, int, int, int]  # left, top, right, bottom in photo pixels
    score: float


@lru_cache(maxsize=4)
def _engine(side: int):
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise ModelError(f"rapidocr_onnxruntime cannot be imported ({exc}), so text in photos cannot be "
                         f"read; run: {INSTALL_OCR} (or turn OCR off with --no-ocr)") from exc
    import os

    import onnxruntime
    # Nothing leaves the machine: ONNX Runtime's telemetry (a no-op on Linux builds, an ETW
    # provider on Windows) is switched off before the first session.
    onnxruntime.disable_telemetry_events()
    threads = int(os.environ.get("CONSENTGUARD_OCR_THREADS", "0")) or -1
    return RapidOCR(max_side_len=side, intra_op_num_threads=threads, inter_op_num_threads=threads,
                    print_verbose=False)


def read_text(rgb: np.ndarray, mode: str = "default", sides: dict[str, int] = OCR_SIDE) -> list[OcrLine]:
    """Every line of text found in ``rgb``, in reading order (``sides``: a Policy's ``ocr_sides``)."""
    result, _ = _engine(sides[mode])(rgb)
    lines = []
    for points, text, score in result or []:
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        box = (int(min(xs)), int(min(ys)), int(round(max(xs))), int(round(max(ys))))
        lines.append(OcrLine(str(text), box, float(score)))
    return lines


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
