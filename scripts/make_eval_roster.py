#!/usr/bin/env python3
"""Build an evaluation roster from held-out LFW people, for scripts/evaluate.py.

Takes the people calibrate.py measures on (the same seeded split: never the ones
the thresholds were tuned on), enrols each one's first photo as their SIS
portrait, makes a share of them photo-restricted, and lists every other photo of
theirs as a probe with the face's box. The probes go through the whole product:
``consentguard sync`` (portrait enrolment included) and ``Checker.check_path``.

Writes OUT/export.csv (PowerSchool layout), OUT/portraits/<number>.jpg and
OUT/manifest.csv (probe photos are referenced where they are, by absolute path).

Usage:
  python scripts/make_eval_roster.py OUT [--lfw DIR] [--people 228] [--restricted 0.25]
  consentguard sync OUT/export.csv --photos OUT/portraits --db OUT/cg.db [--index all]
  python scripts/evaluate.py / OUT/manifest.csv --db OUT/cg.db
"""

import argparse
import csv
import random
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LFW = ROOT.parent / "shared" / "faces" / "lfw"
#: LFW's deep-funneled crops are 250 x 250 with the face centred: the face lies in this box.
FACE_BOX = (60, 60, 190, 190)


def held_out_people(lfw: Path) -> list[Path]:
    """The second half of calibrate.py's seeded split of people (the half it reports on)."""
    import numpy as np

    people = sorted(p.name for p in lfw.iterdir() if p.is_dir())
    rng = np.random.default_rng(2026)
    rng.shuffle(people)
    return [lfw / name for name in people[len(people) // 2:]]


def roster_arguments(doc: str) -> argparse.ArgumentParser:
    """The arguments of a script that builds a roster of held-out people (this one, make_eval_set.py)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--lfw", type=Path, default=LFW)
    ap.add_argument("--people", type=int, default=228, help="how many held-out people (default: all 228)")
    ap.add_argument("--restricted", type=float, default=0.25, help="share of them photo-restricted")
    return ap


def main() -> None:
    args = roster_arguments(__doc__).parse_args()
    people = held_out_people(args.lfw)[: args.people]
    restricted = set(random.Random(7).sample(range(len(people)), round(len(people) * args.restricted)))
    (args.out / "portraits").mkdir(parents=True, exist_ok=True)
    with open(args.out / "export.csv", "w", newline="") as e, open(args.out / "manifest.csv", "w", newline="") as m:
        export, manifest = csv.writer(e), csv.writer(m)
        export.writerow(["Student_Number", "First_Name", "Last_Name", "Media_Opt_Out", "Photo_Opt_Out"])
        manifest.writerow(["photo", "student_number", "left", "top", "right", "bottom"])
        for i, person in enumerate(people):
            number = str(700000 + i)
            first, _, last = person.name.partition("_")
            export.writerow([number, first, last.replace("_", " ") or first, "", "Y" if i in restricted else ""])
            photos = sorted(person.glob("*.jpg"))
            shutil.copy(photos[0], args.out / "portraits" / f"{number}.jpg")
            for probe in photos[1:]:
                manifest.writerow([str(probe.resolve()).lstrip("/"), number, *FACE_BOX])
    print(f"{args.out}: {len(people)} people, {len(restricted)} photo-restricted")


if __name__ == "__main__":
    main()
