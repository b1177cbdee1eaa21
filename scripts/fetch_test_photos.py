#!/usr/bin/env python3
"""Fetch and cache the public test photos inside face_recognition's PyPI sdist.

The face_recognition 1.3.0 source distribution (MIT licence) carries a few
photos in tests/test_images/ (two people). We use them for the demo's fictional
students and, where ../shared/faces is missing, for the face tests. A third,
distinct person (the "stranger") is scikit-image's astronaut.png (a NASA photo
of Eileen Collins, public domain), taken from its PyPI wheel. Nothing is
committed: the photos live in the cache folder (default .cache/pypi_faces).

Usage: python scripts/fetch_test_photos.py [CACHE_DIR]   (prints the folder)
"""

import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

SDIST = "face_recognition==1.3.0"
STRANGER_WHEEL = "scikit-image==0.26.0"
WANTED = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "32bit.png",
          "obama_partial_face.jpg", "obama_partial_face2.jpg")


def fetch(cache: Path) -> Path:
    if all((cache / name).is_file() for name in WANTED + ("astronaut.png",)):
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--no-binary", ":all:", SDIST, "-d", tmp],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        archive = next(Path(tmp).glob("face_recognition-*.tar.gz"))
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if "/tests/test_images/" in member.name and name in WANTED:
                    source = tar.extractfile(member)
                    (cache / name).write_bytes(source.read())
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                        STRANGER_WHEEL, "-d", tmp], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with zipfile.ZipFile(next(Path(tmp).glob("scikit_image-*.whl"))) as wheel:
            (cache / "astronaut.png").write_bytes(wheel.read("skimage/data/astronaut.png"))
    missing = [n for n in WANTED + ("astronaut.png",) if not (cache / n).is_file()]
    if missing:
        sys.exit(f"{SDIST}: sdist lacks expected test photos {missing}")
    (cache / "SOURCE.txt").write_text(
        f"Extracted from the PyPI source distribution {SDIST}, tests/test_images/ (MIT licence);\n"
        f"astronaut.png from the {STRANGER_WHEEL} wheel, skimage/data/ (NASA photo, public domain).\n")
    return cache


if __name__ == "__main__":
    default = Path(__file__).resolve().parent.parent / ".cache" / "pypi_faces"
    print(fetch(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
