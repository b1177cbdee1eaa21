#!/usr/bin/env python3
"""Measure the default mode's second, thorough search of wide shots (issue #12).

Runs the face stage as the product does (``find_and_encode``: detect, then encode every
face) on the event folder of scripts/evaluate's set (built once by scripts/make_eval_set.py
into ~/.cache/consentguard-eval; 18 close-ups with faces of 150-400 px, 30 wide shots with
faces of 40-90 px, 12 MP), once without and once with the second search, photo by photo in
the same process, and prints per kind of photo:

- what the first search found (how many faces, the narrowest): what the trigger
  (faces.wide_shot: WIDE_SHOT_WIDTH, WIDE_SHOT_FACES) is decided from;
- how many photos the second search ran on;
- seconds per photo without and with it, and their ratio;
- labelled faces found (a detected face centred in the face's box), by width.

With ``--folder groups`` it measures the set's 20 group photos instead (6-20 permitted people,
faces of 40-300 px; what the trigger's face count is for).

Usage: python scripts/bench_adaptive.py [--set DIR] [--folder event|groups] [--limit N]
"""

import argparse
import csv
import time
from collections import defaultdict
from pathlib import Path

import consentguard.inspect.faces as cgfaces
from consentguard.inspect.image import load_image

BUCKETS = [(0, 48), (48, 64), (64, 96), (96, 150), (150, 10**9)]
CLOSE_UP_PX = 150  # the event folder's close-ups have faces of 150-400 px, its wide shots 40-90 px


def default_set() -> Path:
    sets = sorted(Path.home().glob(".cache/consentguard-eval/set-*/event.csv"), key=lambda p: p.stat().st_mtime)
    if not sets:
        raise SystemExit("no evaluation set: run scripts/evaluate.py once (it builds it), or pass --set")
    return sets[-1].parent


def manifest(folder: Path, name: str) -> dict[str, list[tuple[int, int, int, int]]]:
    boxes = defaultdict(list)
    with open(folder / f"{name}.csv", newline="") as f:
        for row in csv.DictReader(f):
            boxes[row["photo"]].append(tuple(int(row[k]) for k in ("left", "top", "right", "bottom")))
    return boxes


def found(faces, box) -> bool:
    return any(box[0] <= (f.box[0] + f.box[2]) / 2 <= box[2] and box[1] <= (f.box[1] + f.box[3]) / 2 <= box[3]
               for f in faces)


def run(rgb, adaptive: bool):
    """find_and_encode with the second search on or off; faces and seconds."""
    saved = cgfaces.WIDE_SHOT_WIDTH, cgfaces.WIDE_SHOT_FACES
    if not adaptive:
        cgfaces.WIDE_SHOT_WIDTH, cgfaces.WIDE_SHOT_FACES = 0.0, float("inf")
    try:
        start = time.perf_counter()
        faces = cgfaces.find_and_encode(rgb)
        return faces, time.perf_counter() - start
    finally:
        cgfaces.WIDE_SHOT_WIDTH, cgfaces.WIDE_SHOT_FACES = saved


def why(faces) -> str:
    """Which part of the trigger fired: a narrow face, or the number of faces."""
    return "narrow face" if any(f.width < cgfaces.WIDE_SHOT_WIDTH * cgfaces.MODES["default"] for f in faces) else "many faces"


def bucket(width: int) -> str:
    lo, hi = next(b for b in BUCKETS if b[0] <= width < b[1])
    return f"{lo}-{hi - 1}px" if hi < 10**9 else f">={lo}px"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", type=Path, help="scripts/evaluate's set folder (default: the newest cached one)")
    ap.add_argument("--limit", type=int, help="only the first N photos")
    ap.add_argument("--folder", choices=["event", "groups"], default="event",
                    help="the event folder (default) or the 12 MP group photos (6-20 faces of 40-300 px)")
    args = ap.parse_args()
    folder = args.set or default_set()
    labels = manifest(folder, args.folder)
    photos = sorted(labels)[:args.limit]
    cgfaces.face_models().proposer  # load the models before timing
    stats = defaultdict(lambda: {"photos": 0, "triggered": 0, "before": 0.0, "after": 0.0,
                                 "faces": [], "narrowest": [], "labelled": defaultdict(lambda: [0, 0, 0])})
    print("photo     kind      first search: faces narrowest  second search  s before  s after  labelled found before/after")
    for name in photos:
        rgb = load_image(folder / args.folder / name).rgb
        height, width = rgb.shape[:2]
        boxes = labels[name]
        kind = "group" if args.folder == "groups" else (
            "close-up" if max(b[2] - b[0] for b in boxes) >= CLOSE_UP_PX else "wide shot")
        if len(stats[kind]["faces"]) % 2:  # alternate which runs first: neither gains from the other's warm caches
            after, s_after = run(rgb, adaptive=True)
            before, s_before = run(rgb, adaptive=False)
        else:
            before, s_before = run(rgb, adaptive=False)
            after, s_after = run(rgb, adaptive=True)
        triggered = cgfaces.wide_shot(before, width, height)
        s = stats[kind]
        s["photos"] += 1
        s["triggered"] += triggered
        s["before"] += s_before
        s["after"] += s_after
        s["faces"].append(len(before))
        narrowest = min((f.width for f in before), default=None)
        if narrowest is not None:
            s["narrowest"].append(narrowest)
        hit_before = hit_after = 0
        for box in boxes:
            row = s["labelled"][bucket(box[2] - box[0])]
            row[0] += 1
            row[1] += found(before, box)
            row[2] += found(after, box)
            hit_before += found(before, box)
            hit_after += found(after, box)
        print(f"{name:<9} {kind:<9} {len(before):>18} {narrowest or '-':>9}  {why(before) if triggered else 'no':>13}"
              f"  {s_before:8.2f} {s_after:8.2f}  {hit_before}/{len(boxes)} -> {hit_after}/{len(boxes)}")
    print(f"\ntrigger: a face narrower than {cgfaces.WIDE_SHOT_WIDTH} x {cgfaces.MODES['default']} px, "
          f"or {cgfaces.WIDE_SHOT_FACES}+ faces")
    for kind, s in sorted(stats.items()):
        n = s["photos"]
        print(f"\n{kind}: {n} photos, first search found {min(s['faces'])}-{max(s['faces'])} faces, narrowest "
              f"{min(s['narrowest'], default='-')}-{max(s['narrowest'], default='-')} px; second search on {s['triggered']}")
        print(f"  seconds per photo: {s['before'] / n:.2f} before, {s['after'] / n:.2f} after "
              f"({s['after'] / s['before']:.2f}x)")
        for label, (total, b, a) in sorted(s["labelled"].items(), key=lambda kv: int(kv[0].strip(">=").split("-")[0].rstrip("px"))):
            print(f"  labelled faces {label:>9}: {b}/{total} found before, {a}/{total} after")


if __name__ == "__main__":
    main()
