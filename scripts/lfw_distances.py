#!/usr/bin/env python3
"""Interim distance measurement behind the default thresholds (issue #4 replaces it).

Enrols the first LFW photo of each of N people as their only portrait and
probes with their other photos. For each threshold it prints recall (probe
within the threshold of its own portrait) and the share of probes whose
nearest *other* person is within it (an innocent face flagged when every
other person were a restricted student).

Usage: python scripts/lfw_distances.py [LFW_DIR] [N_PEOPLE]
"""

import random
import sys
from pathlib import Path

import numpy as np

from consentguard.inspect.faces import find_and_encode
from consentguard.inspect.image import load_image


def central_encoding(path: Path):
    faces = [f for f in find_and_encode(load_image(path).rgb) if f.encoding is not None]
    if not faces:
        return None
    return min(faces, key=lambda f: abs((f.box[0] + f.box[2]) / 2 - 125) + abs((f.box[1] + f.box[3]) / 2 - 125)).encoding


def main(lfw: Path, n: int) -> None:
    people = sorted(p for p in lfw.iterdir() if p.is_dir())
    random.Random(1).shuffle(people)
    enc = {}
    for person in people[:n]:
        e = [x for x in (central_encoding(f) for f in sorted(person.glob("*.jpg"))) if x is not None]
        if len(e) >= 2:
            enc[person.name] = np.array(e)
    names = list(enc)
    gallery = np.array([enc[n][0] for n in names])
    genuine, impostor = [], []
    for i, name in enumerate(names):
        for probe in enc[name][1:]:
            d = np.linalg.norm(gallery - probe, axis=1)
            genuine.append(d[i])
            impostor.append(np.delete(d, i).min())
    genuine, impostor = np.array(genuine), np.array(impostor)
    print(f"{len(names)} people, {len(genuine)} probes")
    print("threshold  recall  nearest-other-within")
    for t in (0.40, 0.45, 0.47, 0.50, 0.55, 0.60, 0.65):
        print(f"  {t:.2f}    {(genuine <= t).mean():6.1%}  {(impostor <= t).mean():6.1%}")


if __name__ == "__main__":
    default = Path(__file__).resolve().parent.parent.parent / "shared" / "faces" / "lfw"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default, int(sys.argv[2]) if len(sys.argv) > 2 else 150)
