#!/usr/bin/env python3
"""Benchmark: a re-check after 3 students become restricted, against a full re-scan of the same photos.

    scripts/bench_recheck.py [--photos 100] [--faces DIR]

Builds N 12 MP photos (4000x3000) with 4 real faces each (LFW people from the shared face set, 40
students), syncs a roster where 5 of them are photo-restricted, checks every photo (recorded in the
audit trail, as staff would), then syncs again with 3 more students photo-restricted and, in the same
run, times:

* **recheck**: ``consentguard.runners.recheck.recheck`` (only the 3 new students looked for; the
  quick re-check encodes the faces the earlier checks found and compares them with those 3);
* **full re-scan**: every photo checked again with today's roster (``Checker.check_path``).

It prints seconds per photo for both, the ratio, the totals extrapolated to 2,000 photos, and whether
the re-check listed every photo the re-scan finds showing a newly restricted student (it must: a
missed one is printed). One core each (the checks run one after another in this process).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consentguard import open_db, sync_roster  # noqa: E402
from consentguard.runners.check import Checker  # noqa: E402
from consentguard.runners.recheck import recheck  # noqa: E402

HEADER = ["Student_Number", "First_Name", "Last_Name", "Grade_Level", "SchoolID", "Enroll_Status", "Media_Opt_Out",
          "Photo_Opt_Out", "Name_Opt_Out"]


def people(faces: Path, n: int = 40) -> list[tuple[str, Path, list[Path]]]:
    """(name, portrait, other photos) of n LFW people with at least 2 photos."""
    found = []
    for folder in sorted((faces / "lfw").iterdir()):
        photos = sorted(folder.glob("*.jpg"))
        if len(photos) >= 2:
            found.append((folder.name, photos[0], photos[1:]))
        if len(found) == n:
            break
    if len(found) < n:
        sys.exit(f"{faces}: fewer than {n} LFW people with two photos (pass --faces DIR, the shared face set)")
    return found


def export(path: Path, cast, restricted: set[int]) -> Path:
    lines = [",".join(HEADER)]
    for i, (name, _, _) in enumerate(cast):
        first, _, last = name.partition("_")
        lines.append(f"{800000 + i},{first},{last.replace('_', ' ') or 'X'},6,1201,0,,{'Y' if i in restricted else ''},")
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def make_photos(folder: Path, cast, n: int) -> list[Path]:
    rng = random.Random(7)
    paths = []
    for k in range(n):
        scene = Image.new("RGB", (4000, 3000), (110, 120, 100))
        for j in range(4):
            _, _, others = cast[rng.randrange(len(cast))]
            face = ImageOps.exif_transpose(Image.open(rng.choice(others))).convert("RGB").crop((55, 40, 195, 210))
            scene.paste(face.resize((420, 510)), (300 + 900 * j, 900 + 200 * (j % 2)))
        paths.append(folder / f"event_{k:04d}.jpg")
        scene.save(paths[-1], quality=88)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=100, help="photos checked (default 100; the issue's case is 2000)")
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    args = ap.parse_args()
    cast = people(args.faces)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        portraits = work / "portraits"
        portraits.mkdir()
        for i, (_, portrait, _) in enumerate(cast):
            shutil.copy(portrait, portraits / f"{800000 + i}.jpg")
        (work / "photos").mkdir()
        photos = make_photos(work / "photos", cast, args.photos)
        db = open_db(work / "cg.db")
        sync_roster(db, export(work / "e1.csv", cast, {0, 1, 2, 3, 4}), portraits, index_policy="restricted")
        first = Checker(db)
        let_out = {str(p) for p in photos if first.check_path(p).verdict == "pass"}  # checks staff made (recorded)
        sync_roster(db, export(work / "e2.csv", cast, {0, 1, 2, 3, 4, 10, 11, 12}), portraits)
        new = {str(800000 + i) for i in (10, 11, 12)}

        start = time.perf_counter()
        report = recheck(db, None, record=False)
        took_recheck = time.perf_counter() - start

        start = time.perf_counter()
        fresh = Checker(db, record=False)
        shows_new = set()
        for p in photos:
            result = fresh.check_path(p)
            if str(p) in let_out and any(f.student_number in new and f.verdict != "pass"
                                         for f in result.decision.faces):
                shows_new.add(str(p))
        took_scan = time.perf_counter() - start

        listed = {f.path for f in report.takedowns}
        n = len(photos)
        print(f"{n} photos of 12 MP, 4 faces each; {report.looked_at} earlier checks let a photo out, "
              f"{report.rechecked} re-checked ({report.quick} cleared by the quick re-check)")
        print(f"recheck:      {took_recheck:.1f} s = {took_recheck / n:.2f} s per photo "
              f"(2,000 photos: {took_recheck / n * 2000 / 60:.1f} min)")
        print(f"full re-scan: {took_scan:.1f} s = {took_scan / n:.2f} s per photo "
              f"(2,000 photos: {took_scan / n * 2000 / 60:.1f} min)")
        print(f"speed-up: {took_scan / max(took_recheck, 1e-9):.1f}x")
        print(f"photos showing a newly restricted student: re-scan {len(shows_new)}, listed by recheck "
              f"{len(listed & shows_new)}; missed by recheck: {len(shows_new - listed)}; listed but not found by the "
              f"re-scan: {len(listed - shows_new)}")
        if shows_new - listed:
            print(json.dumps(sorted(shows_new - listed), indent=1))


if __name__ == "__main__":
    main()
