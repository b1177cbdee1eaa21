#!/usr/bin/env python3
"""Calibrate the face-matching thresholds on LFW, split by person.

Stage 1 (--encode, slow, cached): for every photo of every LFW person, encode
the central face three ways: plain (1 jitter), of the mirrored photo (a
"flipped probe"), and, for each person's first photo, with 10 jitters (a
"jittered enrolment"). Cached in .cache/calibration/lfw_encodings.npz.

Stage 2 (default): split people in two halves by a fixed seed; tune on one,
report on the other. See the module's README section for what is printed.

Usage: python scripts/calibrate.py [--encode] [--lfw DIR]
"""

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "calibration" / "lfw_encodings.npz"


def encode_all(lfw: Path) -> None:
    from consentguard.faces import Face, detect_faces, encode_face
    from consentguard.image import load_image

    people = sorted(p for p in lfw.iterdir() if p.is_dir())
    names, files, plain, flipped, jittered, widths = [], [], [], [], [], []
    start = time.time()
    for k, person in enumerate(people):
        for i, path in enumerate(sorted(person.glob("*.jpg"))):
            rgb = load_image(path).rgb
            faces = detect_faces(rgb)
            if not faces:
                continue
            h, w = rgb.shape[:2]
            face = min(faces, key=lambda f: abs((f.box[0] + f.box[2]) / 2 - w / 2) + abs((f.box[1] + f.box[3]) / 2 - h / 2))
            mirror = np.ascontiguousarray(rgb[:, ::-1])
            l, t, r, b = face.box
            names.append(person.name)
            files.append(path.name)
            widths.append(face.width)
            plain.append(encode_face(rgb, face))
            flipped.append(encode_face(mirror, Face((w - r, t, w - l, b))))
            jittered.append(encode_face(rgb, face, 10) if i == 0 else np.full(128, np.nan))
        if k % 50 == 0:
            print(f"{k}/{len(people)} people, {len(names)} faces, {time.time() - start:.0f} s", file=sys.stderr)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, names=np.array(names), files=np.array(files), widths=np.array(widths),
             plain=np.array(plain), flipped=np.array(flipped), jittered=np.array(jittered))
    print(f"wrote {CACHE}: {len(names)} faces of {len(set(names))} people", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encode", action="store_true")
    ap.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "faces" / "lfw")
    args = ap.parse_args()
    if args.encode or not CACHE.is_file():
        encode_all(args.lfw)


if __name__ == "__main__":
    main()
