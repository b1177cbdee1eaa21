#!/usr/bin/env python3
"""Time the nightly sync on a generated roster and print the figures.

Generates N students (a share of them photo-restricted) in a PowerSchool
export, with a portrait for every student (240x300 JPEGs made from real face
photos: ../shared/faces/lfw if present, else the PyPI test photos, each file
made unique). Then, each phase in a fresh process so peak memory is its own:

  1. first sync            (every restricted student's portrait encoded)
  2. unchanged re-sync     (same files: nothing re-encoded)
  3. re-sync, 1% changed   (a few consents and portraits changed)

Prints seconds, ratio to the first sync, and peak RSS per phase.
"""

import argparse
import csv
import multiprocessing as mp
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent


def face_sources() -> list[Path]:
    lfw = ROOT.parent / "shared" / "faces" / "lfw"
    if lfw.is_dir():
        return sorted(lfw.glob("*/*_0001.jpg"))[:300]
    return sorted((ROOT / ".cache" / "pypi_faces").glob("*.jpg"))


def make_roster(folder: Path, n: int, share: float, seed: int = 7) -> tuple[Path, Path]:
    rng = random.Random(seed)
    portraits = folder / "portraits"
    portraits.mkdir()
    sources = [ImageOps.fit(ImageOps.exif_transpose(Image.open(p)).convert("RGB"), (240, 300))
               for p in face_sources()]
    export = folder / "student.export.csv"
    with open(export, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Student_Number", "First_Name", "Last_Name", "Grade_Level", "SchoolID", "Enroll_Status",
                     "Media_Opt_Out", "Photo_Opt_Out", "Name_Opt_Out"])
        for i in range(n):
            number = f"{200000 + i}"
            restricted = rng.random() < share
            w.writerow([number, f"First{i}", f"Last{i}", str(rng.randint(0, 12)), "1201", "0",
                        "Y" if restricted else "", "", "Y" if rng.random() < 0.02 else ""])
            img = sources[i % len(sources)].copy()
            img.putpixel((0, 0), (i % 256, (i // 256) % 256, 7))  # unique bytes, same face
            img.save(portraits / f"{number}.jpg", quality=90)
    return export, portraits


def change_some(export: Path, portraits: Path, share: float = 0.01, seed: int = 9) -> None:
    rng = random.Random(seed)
    rows = list(csv.reader(open(export, newline="")))
    for row in rows[1:]:
        if rng.random() < share:
            row[6] = "" if row[6] else "Y"
            path = portraits / f"{row[0]}.jpg"
            Image.open(path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(path, quality=90)
    with open(export, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def phase(db: str, export: str, photos: str, queue) -> None:
    from consentguard import open_db, sync_roster
    start = time.perf_counter()
    report = sync_roster(open_db(db), export, photos, accept_drop=True)
    seconds = time.perf_counter() - start
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               report.portraits_encoded, report.portraits_reused, report.changed))


def run_phase(*args) -> tuple:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=phase, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=5000)
    ap.add_argument("--restricted", type=float, default=0.05, help="share of photo-restricted students")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        export, portraits = make_roster(tmp, args.students, args.restricted)
        print(f"generated {args.students} students with portraits in {time.perf_counter() - t:.1f} s "
              f"({len(face_sources())} distinct faces)", file=sys.stderr)
        db = str(tmp / "bench.db")
        rows = []
        for name in ("first sync", "unchanged re-sync", "re-sync, 1% changed"):
            if name.startswith("re-sync, 1%"):
                change_some(export, portraits)
            rows.append((name, *run_phase(db, str(export), str(portraits))))
        first = rows[0][1]
        print(f"sync benchmark: {args.students} students, {args.restricted:.0%} photo-restricted")
        print(f"{'phase':<22}{'seconds':>9}{'x first':>9}{'peak RSS MB':>13}{'encoded':>9}{'reused':>8}{'changed':>9}")
        for name, seconds, rss, encoded, reused, changed in rows:
            print(f"{name:<22}{seconds:>9.2f}{seconds / first:>9.3f}{rss:>13.0f}{encoded:>9}{reused:>8}{changed:>9}")


if __name__ == "__main__":
    main()
