#!/usr/bin/env python3
"""Build the demo's portraits and draft photos from the cached PyPI test photos.

Two fictional students get real faces (see README, "The demo"):
  100104 Marcus Ellery   photo-restricted   portrait = obama.jpg
  100117 Jordan Whitfield  permitted        portrait = biden.jpg
Draft photos written to OUT/drafts:
  assembly.jpg     Marcus in another photo (obama2.jpg)                 -> block
  science_fair.jpg Jordan (biden.jpg)                                   -> pass
  sports_day.jpg   Jordan close up, and a distant face 40 px wide that
                   cannot be identified (Jordan again, far away)          -> review
  broken.jpg       the first third of a JPEG (truncated upload)         -> error

Usage: python scripts/make_demo_photos.py PYPI_FACES_DIR OUT_DIR
"""

import shutil
import sys
from pathlib import Path

from PIL import Image, ImageOps


def build(faces: Path, out: Path) -> None:
    portraits, drafts = out / "portraits", out / "drafts"
    portraits.mkdir(parents=True, exist_ok=True)
    drafts.mkdir(parents=True, exist_ok=True)
    shutil.copy(faces / "obama.jpg", portraits / "100104.jpg")
    shutil.copy(faces / "biden.jpg", portraits / "100117.jpg")
    shutil.copy(faces / "obama2.jpg", drafts / "assembly.jpg")
    shutil.copy(faces / "biden.jpg", drafts / "science_fair.jpg")

    # A field scene: Jordan near the camera, and far away (face ~40 px wide: too small to identify).
    scene = Image.new("RGB", (1800, 1200), (104, 142, 88))
    near = ImageOps.exif_transpose(Image.open(faces / "biden.jpg")).convert("RGB")
    near.thumbnail((700, 1100))
    scene.paste(near, (120, 100))
    far = ImageOps.exif_transpose(Image.open(faces / "biden.jpg")).convert("RGB")
    scale = 40 / 321  # biden.jpg's face box is about 321 px wide
    far = far.resize((round(far.width * scale), round(far.height * scale)), Image.LANCZOS)
    scene.paste(far, (1400, 500))
    scene.save(drafts / "sports_day.jpg", quality=92)

    data = (faces / "obama2.jpg").read_bytes()
    (drafts / "broken.jpg").write_bytes(data[: len(data) // 3])


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
