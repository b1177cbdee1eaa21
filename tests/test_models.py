"""Model loading: works without pkg_resources, fails loudly when models are missing."""

import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.faces
def test_models_load_without_pkg_resources(faces):
    """As in a fresh Python 3.12+ venv or with setuptools >= 82: no pkg_resources at all."""
    proc = run_python(f"""
        import sys
        sys.modules["pkg_resources"] = None  # any import of it now raises ImportError
        from consentguard.image import load_image
        from consentguard.faces import find_and_encode
        faces = find_and_encode(load_image({str(faces.restricted_portrait)!r}).rgb)
        assert len(faces) == 1 and faces[0].encoding.shape == (128,)
        print("encoded")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "encoded"


def test_missing_model_package_raises_model_error():
    proc = run_python("""
        import importlib.util
        real = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *a: None if name == "face_recognition_models" else real(name, *a)
        from consentguard.models import face_models
        from consentguard.errors import ModelError
        try:
            face_models()
        except ModelError as e:
            print(e)
    """)
    assert "face_recognition_models: package not installed" in proc.stdout


def test_missing_model_file_raises_model_error(tmp_path, monkeypatch):
    from consentguard import models
    from consentguard.errors import ModelError
    monkeypatch.setattr(models, "models_dir", lambda: tmp_path)
    with pytest.raises(ModelError, match="face model file missing or empty"):
        models.model_path(models.ENCODER)


def test_no_68_point_model_used():
    source = (ROOT / "consentguard" / "models.py").read_text()
    assert "shape_predictor_68" not in source
