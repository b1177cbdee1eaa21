"""Image inspection, step 2: find faces and turn each into a 128-number encoding.

A thin layer over dlib (HOG detector, 5-point landmarks, ResNet encoder), the
same calls ``face_recognition`` makes, without its import-time side effects
(see :mod:`consentguard.models`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .models import face_models

#: Detection modes: the factor the photo is enlarged by before dlib's HOG
#: detector runs, chosen from measurements on 12 MP scenes of real faces
#: (scripts/bench_detect.py; README "Finding faces"):
#:   default   x1.25: every face >= 56 px found (64 px at x1.0: only 83%), 2.07 s / 12 MP / core
#:   thorough  x2.0:  every face >= 32 px found, 6.10 s / 12 MP / core
MODES = {"default": 1.25, "thorough": 2.0}

#: Photos up to this size are always searched at x2 (cheap there, and small
#: photos tend to have small faces).
SMALL_PHOTO_PIXELS = 2_500_000


@dataclass
class Face:
    """One detected face: box in image pixels and (if encoded) its encoding."""

    box: tuple[int, int, int, int]  # left, top, right, bottom
    encoding: np.ndarray | None = field(default=None, repr=False)
    score: float = 0.0
    sharpness: float | None = None

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def _gray(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma (Pillow's C code); dlib's HOG is about 20% faster on one channel."""
    from PIL import Image
    return np.asarray(Image.fromarray(rgb).convert("L"))


def detection_scale(width: int, height: int, mode: str = "default") -> float:
    if mode not in MODES:
        raise ValueError(f"unknown detection mode {mode!r}; choose one of {', '.join(MODES)}")
    return max(MODES[mode], 2.0) if width * height <= SMALL_PHOTO_PIXELS else MODES[mode]


def detect_faces(rgb: np.ndarray, mode: str = "default", scale: float | None = None) -> list[Face]:
    """Find faces with dlib's HOG detector on a grayscale copy enlarged by ``scale``
    (default: as :data:`MODES` says for ``mode``); boxes are in ``rgb``'s pixels."""
    from PIL import Image

    height, width = rgb.shape[:2]
    scale = scale if scale is not None else detection_scale(width, height, mode)
    gray = _gray(rgb)
    upsample = 0
    if scale == 2.0:
        upsample = 1  # dlib's own pyramid upsampling: same result, no copy
    elif scale != 1.0:
        gray = np.asarray(Image.fromarray(gray).resize((round(width * scale), round(height * scale)),
                                                       Image.BILINEAR))
    rects, scores, _ = face_models().detector.run(gray, upsample, 0.0)
    factor = 1.0 if upsample else scale
    faces = []
    for r, s in zip(rects, scores):
        box = (max(round(r.left() / factor), 0), max(round(r.top() / factor), 0),
               min(round(r.right() / factor), width), min(round(r.bottom() / factor), height))
        if box[2] > box[0] and box[3] > box[1]:
            faces.append(Face(box=box, score=float(s)))
    return faces


def encode_face(rgb: np.ndarray, face: Face, jitters: int = 1) -> np.ndarray:
    """The 128-d encoding of ``face`` computed from the full-resolution image."""
    models = face_models()
    left, top, right, bottom = face.box
    rect = models.dlib.rectangle(left, top, right, bottom)
    shape = models.landmarks(rgb, rect)
    return np.asarray(models.encoder.compute_face_descriptor(rgb, shape, jitters), dtype=np.float64)


def sharpness(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Focus measure of a face: variance of second differences of its 96x96 grey crop.

    Measured on real faces: sharp 300-1000; blurred by about 2% of the face width
    below 20, where the encoding drifts 0.2-0.4 from the sharp one.
    """
    from PIL import Image

    left, top, right, bottom = box
    crop = np.asarray(Image.fromarray(rgb[top:bottom, left:right]).convert("L").resize((96, 96)),
                      dtype=np.float64)
    return float(np.var(np.diff(crop, 2, axis=0)) + np.var(np.diff(crop, 2, axis=1)))


def find_and_encode(rgb: np.ndarray, jitters: int = 1, mode: str = "default") -> list[Face]:
    """Detect every face; encode each and measure its sharpness."""
    faces = detect_faces(rgb, mode)
    for face in faces:
        face.encoding = encode_face(rgb, face, jitters)
        face.sharpness = sharpness(rgb, face.box)
    return faces
