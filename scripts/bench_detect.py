#!/usr/bin/env python3
"""Measure face detection strategies on a 12 MP scene of real faces at known sizes.

Pastes real face photos (../shared/faces/lfw, else the PyPI test photos) at
face widths from 28 to 200 px onto an enlarged, blurred street photo (4000x3000),
then runs dlib's HOG detector with each strategy and prints the time and the
share of faces found per size. This is the measurement behind the detection
modes in consentguard/faces.py.

Usage: python scripts/bench_detect.py [--faces 54]
"""

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from consentguard.faces import _gray, detect_faces

ROOT = Path(__file__).resolve().parent.parent
SIZES = [28, 32, 40, 48, 56, 64, 80, 120, 200]


def sources() -> tuple[list[Path], float]:
    """Face photos and the face width as a share of the photo width."""
    lfw = ROOT.parent / "shared" / "faces" / "lfw"
    if lfw.is_dir():
        return sorted(lfw.glob("*/*_0001.jpg")), 110 / 250
    return sorted((ROOT / ".cache" / "pypi_faces").glob("obama*.jpg")), None


def scene(n: int):
    photos, share = sources()
    background = Image.new("RGB", (4000, 3000), (120, 128, 110)).filter(ImageFilter.GaussianBlur(2))
    city = ROOT.parent / "shared" / "faces" / "groups" / "deface-city.jpg"
    if city.is_file():
        background = Image.open(city).convert("RGB").resize((4000, 3000)).filter(ImageFilter.GaussianBlur(6))
    truth, x, y = [], 60, 60
    for i in range(n):
        size = SIZES[i % len(SIZES)]
        im = ImageOps.exif_transpose(Image.open(photos[i % len(photos)])).convert("RGB")
        face_share = share
        if face_share is None:  # measure the face once at full size
            face = max(detect_faces(np.asarray(im)), key=lambda f: f.width)
            face_share = face.width / im.width
        k = size / (face_share * im.width)
        crop = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))), Image.LANCZOS)
        if x + crop.width > 3950:
            x, y = 60, y + max(420, crop.height + 40)
        background.paste(crop, (x, y))
        truth.append((x + crop.width / 2, y + crop.height / 2, size))
        x += crop.width + 120
    return np.asarray(background), truth


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=int, default=54)
    args = ap.parse_args()
    rgb, truth = scene(args.faces)
    _gray(rgb)
    print(f"12 MP scene, {len(truth)} faces ({len(truth) // len(SIZES)} per size); one core")
    print("strategy   seconds  " + "  ".join(f"{s:>4}px" for s in SIZES))
    baseline = None
    for label, scale in (("x1.0", 1.0), ("x1.25", 1.25), ("x1.5", 1.5), ("x2.0", 2.0)):
        start = time.perf_counter()
        faces = detect_faces(rgb, scale=scale)
        seconds = time.perf_counter() - start
        baseline = baseline or seconds
        hit = set()
        for f in faces:
            cx, cy = (f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2
            hit |= {j for j, (tx, ty, s) in enumerate(truth) if abs(cx - tx) < s / 2 and abs(cy - ty) < s / 2}
        shares = [sum(1 for j in hit if truth[j][2] == s) / max(1, sum(t[2] == s for t in truth)) for s in SIZES]
        print(f"{label:<9}{seconds:>8.2f}  " + "  ".join(f"{v:>6.0%}" for v in shares)
              + f"   ({seconds / baseline:.2f}x the x1.0 time)")


if __name__ == "__main__":
    main()
