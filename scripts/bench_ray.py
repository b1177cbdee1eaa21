#!/usr/bin/env python3
"""Benchmark: the scan's local engine vs the Ray engine (Ray in local mode) on the same photos.

Builds N photos (default 200) from the development face photos (../shared/faces: people/ and
groups/): each source photo upright, cropped a little differently per copy (so no two files share
content) and resized so its long side is PHONE_PX (a phone photo as a messaging app sends it, 1280 px), saved as JPEG
quality 90. A roster of two students (obama photo-restricted, biden clear) is synced from their
portraits. Both engines scan the same folder with the same number of workers, each into its own copy
of the database (no cache shared), in one run. Prints wall time, the overhead ratio (Ray / local),
the per-photo cost per core, a scaling estimate per extra core, and the peak RSS of each worker
(local: the pool's processes; Ray: the actor processes), sampled from /proc every 0.2 s. A third
run scans the Ray database again, every photo from the cache: the cost of the one writer per photo.

Usage: nice -n 10 python scripts/bench_ray.py [--photos 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("CONSENTGUARD_FACES", ROOT.parent / "shared" / "faces"))
PHONE_PX = 1280


def sources() -> list[Path]:
    people = sorted((SHARED / "people").glob("*/*.jp*g")) + sorted((SHARED / "people").glob("*/*.png"))
    return people + sorted((SHARED / "groups").glob("*.jp*g"))


def make_photos(folder: Path, n: int) -> None:
    """n phone-sized photos, each from a source photo with its own crop (unique content)."""
    found = sources()
    for i in range(n):
        src = found[i % len(found)]
        im = ImageOps.exif_transpose(Image.open(src)).convert("RGB")
        k = 1 + i // len(found)  # each round of copies crops a little more off the edges
        dx, dy = im.width * k // 100, im.height * k // 100
        im = im.crop((dx, dy, im.width - dx, im.height - dy))
        scale = PHONE_PX / max(im.size)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
        im.save(folder / f"photo_{i:03d}.jpg", quality=90)


def make_roster(work: Path) -> Path:
    from consentguard import open_db, sync_roster

    portraits = work / "portraits"
    portraits.mkdir()
    shutil.copy(SHARED / "people/obama/obama.jpg", portraits / "900001.jpg")
    shutil.copy(SHARED / "people/biden/biden.jpg", portraits / "900002.jpg")
    header = ["Student_Number", "First_Name", "Last_Name", "Grade_Level", "SchoolID", "Enroll_Status",
              "Media_Opt_Out", "Photo_Opt_Out", "Name_Opt_Out"]
    with open(work / "export.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerow(["900001", "Marcus", "Ellery", "6", "1201", "0", "", "Y", ""])
        out.writerow(["900002", "Jordan", "Whitfield", "6", "1201", "0", "", "", ""])
    db = work / "cg.db"
    sync_roster(open_db(db), work / "export.csv", portraits)
    return db


class PeakRSS:
    """Peak resident memory (MB) per process matching ``wanted(pid, cmdline, ppid)``, sampled from /proc."""

    def __init__(self, wanted):
        self.wanted, self.peak, self.stop = wanted, {}, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.2):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                if "VmRSS" in fields and self.wanted(int(pid), cmd, int(fields["PPid"])):
                    mb = int(fields["VmRSS"].split()[0]) / 1024
                    self.peak[pid] = max(self.peak.get(pid, 0), mb)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def timed_scan(db: Path, folder: Path, workers: int, engine: str, rss: PeakRSS):
    from consentguard import open_db
    from consentguard.runners.scan import run_scan

    start = time.perf_counter()
    with rss:
        scan = run_scan(open_db(db), str(db), folder, workers=workers, engine=engine)
    return scan, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ray-first", action="store_true",
                        help="run the Ray engine first (on a shared machine, load changes between the runs)")
    args = parser.parse_args()
    me = os.getpid()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = work / "photos"
        folder.mkdir()
        make_photos(folder, args.photos)
        db = make_roster(work)
        dbs = {e: work / f"{e}.db" for e in ("local", "ray")}
        for path in dbs.values():
            shutil.copy(db, path)
        local_rss = PeakRSS(lambda pid, cmd, ppid: ppid == me and "multiprocessing" in cmd)
        ray_rss = PeakRSS(lambda pid, cmd, ppid: "PhotoChecker" in cmd or "MapWorker" in cmd)
        runs = [("local", local_rss), ("ray", ray_rss)]
        timed = {e: timed_scan(dbs[e], folder, args.workers, e, rss) for e, rss in runs[::-1 if args.ray_first else 1]}
        (local, t_local), (on_ray, t_ray) = timed["local"], timed["ray"]
        again, t_driver = timed_scan(dbs["ray"], folder, args.workers, "ray", PeakRSS(lambda *a: False))
    same = ({r.doc["path"]: (r.verdict, r.doc["reasons"]) for r in local.results}
            == {r.doc["path"]: (r.verdict, r.doc["reasons"]) for r in on_ray.results})
    n, w = args.photos, args.workers
    verdicts = {v: sum(r.verdict == v for r in on_ray.results) for v in ("pass", "review", "block", "error")}
    per_photo = t_ray * w / n  # core-seconds per photo on Ray, start-up included
    print(f"{n} photos ({PHONE_PX} px long side, from {len(sources())} development photos), {w} workers")
    print(f"verdicts (Ray): {verdicts}; same verdicts and reasons as the local engine: {same}")
    print(f"local engine: {t_local:.1f} s ({t_local / n:.3f} s per photo, {t_local * w / n:.3f} core-s per photo)")
    print(f"Ray engine:   {t_ray:.1f} s ({t_ray / n:.3f} s per photo, {per_photo:.3f} core-s per photo)")
    print(f"overhead ratio Ray / local: {t_ray / t_local:.2f}")
    print(f"the one writer (driver) alone, every photo from the cache ({again.cached} of {n}): {t_driver:.1f} s, "
          f"{t_driver / n * 1000:.0f} ms per photo (hash, cache, batch decision, audit)")
    print(f"scaling estimate: each extra core adds about {3600 / per_photo:.0f} photos per hour "
          f"({1 / per_photo:.2f} photos/s), as long as the one writer keeps up")
    for name, rss in (("local worker", local_rss), ("Ray actor", ray_rss)):
        peaks = sorted(rss.peak.values(), reverse=True)[:w]
        print(f"peak RSS per {name}: " + (", ".join(f"{mb:.0f} MB" for mb in peaks) or "not seen"))


if __name__ == "__main__":
    main()
