"""Where the face models live, and loading them without ``pkg_resources``.

The dlib model files ship inside the ``face_recognition_models`` package from
PyPI. That package's ``__init__`` imports ``pkg_resources``, which recent
setuptools and fresh Python 3.12+ virtual environments no longer provide; and
``face_recognition`` reacts to that by printing a hint and calling ``quit()``,
which exits with status 0. A silent success that checked nothing is the worst
failure this product can have, so we never import either package: we locate
the package folder with :func:`importlib.util.find_spec` (which does not run
its ``__init__`` for a top-level package) and load the plain ``.dat`` files
with dlib ourselves. Anything missing raises :class:`ModelError`.

Only the 5-point landmark model and the ResNet encoder are used: the 68-point
model is licensed for non-commercial use only (see ``models/README.md``).

Faces are found first by CenterFace, a small convolutional detector (MIT), and
text in photos is read with PaddleOCR's PP-OCR models (Apache-2.0). Their ONNX
weight files ship inside consentguard itself (``consentguard/weights/``, with
their licence texts), so ``pip install consentguard`` is the whole install.
Each file is checked against the SHA-256 pinned here before it is loaded: a
file that differs from the one consentguard was calibrated with raises
:class:`ModelError` instead of giving other verdicts silently.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from consentguard.errors import ModelError

MODEL_PACKAGE = "face_recognition_models"
LANDMARKS_5 = "shape_predictor_5_face_landmarks.dat"
ENCODER = "dlib_face_recognition_resnet_model_v1.dat"
DETECTOR = "centerface.onnx"
OCR_DETECTOR = "ch_PP-OCRv4_det_infer.onnx"
OCR_RECOGNISER = "ch_PP-OCRv4_rec_infer.onnx"
OCR_ORIENTATION = "ch_ppocr_mobile_v2.0_cls_infer.onnx"
# Provenance of each file: models/README.md.
WEIGHTS_SHA256 = {
    DETECTOR: "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
    OCR_DETECTOR: "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    OCR_RECOGNISER: "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
    OCR_ORIENTATION: "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
}
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def models_dir() -> Path:
    """Return the folder holding the dlib ``.dat`` files, or raise ModelError."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"{MODEL_PACKAGE}: package not installed; reinstall consentguard "
            "(pip install consentguard) to get the face models"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def model_path(filename: str) -> Path:
    """Path of one model file, checked to exist and be non-empty."""
    path = models_dir() / filename
    if not path.is_file() or path.stat().st_size == 0:
        raise ModelError(f"{path}: face model file missing or empty")
    return path


def weight_path(filename: str) -> Path:
    """Path of one shipped weight file, checked against its pinned SHA-256."""
    import hashlib

    path = WEIGHTS_DIR / filename
    if not path.is_file():
        raise ModelError(f"{path}: model weights missing from the installed package; "
                         "reinstall consentguard (pip install --force-reinstall consentguard)")
    if hashlib.sha256(path.read_bytes()).hexdigest() != WEIGHTS_SHA256[filename]:
        raise ModelError(f"{path}: model weights differ from the release consentguard was calibrated "
                         "with; reinstall consentguard (pip install --force-reinstall consentguard)")
    return path


def detector_path() -> Path:
    """Path of the CenterFace weights, checked against their pinned hash."""
    return weight_path(DETECTOR)


class FaceModels:
    """The dlib objects and the CenterFace network, loaded once per process."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelError(f"dlib cannot be imported ({exc}); install dlib-bin") from exc
        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        try:
            self.landmarks = dlib.shape_predictor(str(model_path(LANDMARKS_5)))
            self.encoder = dlib.face_recognition_model_v1(str(model_path(ENCODER)))
        except RuntimeError as exc:
            raise ModelError(f"{models_dir()}: a face model file cannot be loaded: {exc}") from exc
        try:
            import cv2
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelError(f"OpenCV cannot be imported ({exc}); install opencv-python-headless") from exc
        path = detector_path()
        try:
            self.proposer = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as exc:
            raise ModelError(f"{path}: the face detector cannot be loaded: {exc}") from exc


@lru_cache(maxsize=1)
def face_models() -> FaceModels:
    """The process-wide models, loaded on first use (never at import time)."""
    return FaceModels()
