#!/usr/bin/env python3
"""Measure the search for turned faces (upside down, sideways) in consentguard/inspect/faces.py.

Three measurements, each in both detection modes:

1. **Cost**: CPU seconds of the face stage (detect + encode) per photo with and without
   the turned passes (faces.ROTATIONS emptied), alternated in the same process, on
   photos of a few people and crowds enlarged to 12 MP and on the 12 MP scene of
   scripts/bench_detect.py. The default mode's target: at most ~25% more.
2. **Extra faces on ordinary upright photos** (../shared/faces/groups and people): each
   face the turned passes add or replace is listed (each is work, and a review if
   unconfirmed). ``--scores`` also lists the turned proposals dropped by ROTATED_SCORE.
3. **Recall**: N LFW photos (one per person, 250x250) turned by 90°, 180° and 270°,
   how many are found with the right rotation; and 12 MP scenes with turned LFW faces
   pasted at widths from 48 to 300 px: the smallest turned face each mode finds.

Usage: python scripts/bench_rotate.py [--lfw 60] [--repeat 3] [--scores] [--thorough-cost]
       [--only cost,extra,recall]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_detect import crowds, scene  # noqa: E402

from consentguard.inspect import faces as cgfaces  # noqa: E402
from consentguard.inspect.image import load_image  # noqa: E402
from consentguard.models import face_models  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "faces"
MODES = ("default", "thorough")
SIZES = [48, 64, 80, 96, 128, 160, 200, 300]
#: Ordinary photos of a few people, enlarged to 12 MP for the cost.
SMALL_GROUPS = ["fr-obama_and_biden.jpg", "fr-kit_with_rose.jpg", "deepface-couple.jpg", "fr-two_people.jpg"]


def detect(rgb, mode, turned=True, encode=False):
    saved = cgfaces.ROTATIONS
    cgfaces.ROTATIONS = saved if turned else ()
    try:
        return cgfaces.find_and_encode(rgb, 1, mode) if encode else cgfaces.detect_faces(rgb, mode)
    finally:
        cgfaces.ROTATIONS = saved


def enlarged(path, pixels=12e6):
    im = Image.open(path).convert("RGB")
    k = (pixels / (im.width * im.height)) ** 0.5
    return np.asarray(im.resize((round(im.width * k), round(im.height * k)), Image.BICUBIC))


def cost(args):
    """CPU seconds of the face stage (detect and encode), with and without the turned passes,
    alternated; the fastest of ``--repeat`` runs each."""
    photos = [(name, enlarged(SHARED / "groups" / name)) for name in SMALL_GROUPS]
    photos += list(crowds())[: args.crowds] + [("12 MP scene", scene(54)[0])]
    print(f"Cost: CPU seconds per 12 MP photo, detect + encode (fastest of {args.repeat}), upright only"
          " -> with turned passes; one thread")
    for mode in MODES if args.thorough_cost else ("default",):
        before_all, after_all = [], []
        for name, rgb in photos:
            before, after = [], []
            for _ in range(args.repeat):
                for turned, times in ((False, before), (True, after)):
                    start = time.process_time()
                    found = detect(rgb, mode, turned, encode=True)
                    times.append(time.process_time() - start)
            before_all.append(min(before))
            after_all.append(min(after))
            print(f"  {mode:<9}{name:<30}{len(found):>4} faces {min(before):6.2f} -> {min(after):6.2f} s"
                  f"  (+{min(after) / min(before) - 1:.0%})", flush=True)
        print(f"  {mode:<9}{'mean':<30}{'':>10} {statistics.mean(before_all):6.2f} -> "
              f"{statistics.mean(after_all):6.2f} s  (+{sum(after_all) / sum(before_all) - 1:.0%})")


def ordinary_photos():
    paths = sorted((SHARED / "groups").glob("*.jpg")) + sorted((SHARED / "people").glob("*/*"))
    for path in paths:
        try:
            yield path.relative_to(SHARED), load_image(path).rgb
        except Exception as exc:  # noqa: BLE001 - a photo the loader refuses is not this bench's concern
            print(f"  skipped {path.name}: {exc}")


def extra(args):
    print("Extra faces from the turned passes on ordinary upright photos (groups/ and people/)")
    photos = list(ordinary_photos())
    for mode in MODES:
        upright_total, added, replaced, unconfirmed = 0, 0, 0, 0
        for name, rgb in photos:
            before = detect(rgb, mode, False)
            after = detect(rgb, mode, True)
            upright_total += len(before)
            new = [f for f in after if f.rotation]
            kept = sum(1 for f in after if not f.rotation)
            replaced += len(before) - kept
            added += len(new) - (len(before) - kept)
            unconfirmed += sum(not f.confirmed for f in new)
            for f in new:
                print(f"  {mode:<9}{str(name):<44} {f.rotation:>3}° box {f.box} score {f.score:.2f}"
                      f" {'confirmed' if f.confirmed else 'UNCONFIRMED'}")
            if args.scores:
                scores = _dropped_scores(rgb, mode)
                if scores:
                    print(f"  {mode:<9}{str(name):<44} dropped turned proposals, scores {scores}")
        print(f"  {mode}: {len(photos)} photos, {upright_total} upright faces; turned passes added {added},"
              f" replaced {replaced} (unconfirmed among them: {unconfirmed})")


def _dropped_scores(rgb, mode):
    saved = cgfaces.ROTATED_SCORE
    cgfaces.ROTATED_SCORE = 0.0
    try:
        loose = detect(rgb, mode)
    finally:
        cgfaces.ROTATED_SCORE = saved
    return sorted(round(f.score, 2) for f in loose if f.rotation and not f.confirmed and f.score < saved)


def lfw(n):
    return sorted((SHARED / "lfw").glob("*/*_0001.jpg"))[:n]


def recall(args):
    probes = lfw(args.lfw)
    print(f"Recall: {len(probes)} LFW photos (250x250, face ~110 px) turned; found with the right rotation"
          " (confirmed by dlib / all)")
    for mode in MODES:
        line = f"  {mode:<9}"
        for k in (0, 1, 2, 3):
            hit = confirmed = 0
            for path in probes:
                rgb = np.ascontiguousarray(np.rot90(load_image(path).rgb, -k))  # face turned 90*k clockwise
                near = [f for f in cgfaces.detect_faces(rgb, mode) if f.rotation == 90 * k
                        and abs((f.box[0] + f.box[2]) / 2 - 125) < 40 and abs((f.box[1] + f.box[3]) / 2 - 125) < 40]
                hit += bool(near)
                confirmed += any(f.confirmed for f in near)
            line += f"  {90 * k:>3}°: {confirmed}/{hit}/{len(probes)}"
        print(line)
    scenes = [turned_scene(probes[i::args.scenes]) for i in range(args.scenes)]
    print(f"Turned faces pasted into {args.scenes} 12 MP scenes (each size 90°, 180°, 270°), found per face width")
    print("  mode      " + "  ".join(f"{s:>4}px" for s in SIZES))
    for mode in MODES:
        hits = {size: [] for size in SIZES}
        for rgb, truth in scenes:
            faces = cgfaces.detect_faces(rgb, mode)
            for x, y, size, rotation in truth:
                hits[size].append(any(f.rotation == rotation and abs((f.box[0] + f.box[2]) / 2 - x) < size / 2
                                      and abs((f.box[1] + f.box[3]) / 2 - y) < size / 2 for f in faces))
        print(f"  {mode:<9}" + "  ".join(f"{sum(h):>3}/{len(h):<2}" for h in hits.values()))


def turned_scene(probes):
    """LFW photos scaled so their face is SIZES wide, each turned 90°, 180° or 270°, on a blurred 12 MP street."""
    background = Image.open(SHARED / "groups" / "deface-city.jpg").convert("RGB").resize((4000, 3000))
    background = background.filter(ImageFilter.GaussianBlur(6))
    truth, x, y, i = [], 60, 60, 0
    for size in SIZES:
        for rotation in (90, 180, 270):
            im = Image.open(probes[i % len(probes)]).convert("RGB")
            i += 1
            k = size / 110  # LFW deep-funneled faces are about 110 px of 250
            crop = im.resize((round(250 * k), round(250 * k)), Image.LANCZOS).rotate(-rotation, expand=True)
            if x + crop.width > 3950:
                x, y = 60, y + max(420, crop.height + 40)
            background.paste(crop, (x, y))
            truth.append((x + crop.width / 2, y + crop.height / 2, size, rotation))
            x += crop.width + 120
    return np.asarray(background), truth


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lfw", type=int, default=60, help="LFW people turned for the recall (default 60)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--crowds", type=int, default=2, help="crowd photos timed (default 2)")
    ap.add_argument("--scenes", type=int, default=3, help="12 MP scenes of turned faces (default 3)")
    ap.add_argument("--thorough-cost", action="store_true", help="time the thorough mode too")
    ap.add_argument("--scores", action="store_true", help="list turned proposals dropped by ROTATED_SCORE")
    ap.add_argument("--only", default="cost,extra,recall")
    args = ap.parse_args()
    import cv2
    cv2.setNumThreads(1)  # as in a scan worker: one thread per process
    face_models().proposer  # load before timing
    for part in args.only.split(","):
        {"cost": cost, "extra": extra, "recall": recall}[part](args)


if __name__ == "__main__":
    main()
