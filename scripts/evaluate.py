#!/usr/bin/env python3
"""Evaluate consentguard's face checks on labelled photos against a synced roster.

The manifest is a CSV with a header row, one row per labelled face:

    photo,student_number,left,top,right,bottom
    assembly/IMG_0412.jpg,100104,812,403,868,466
    assembly/IMG_0412.jpg,,1210,380,1290,470

``photo`` is relative to FOLDER; ``student_number`` is the student shown (blank for
anyone not on the roster); the box (pixels of the upright photo) is optional but
needed for face-level results and size buckets. A labelled face counts as found
when a detected face's centre lies inside its box (or, without a box, when the
photo has a face matched to that student).

Prints, overall and per face-width bucket:
  recall     restricted students' faces flagged (block or review)
  blocked    restricted students' faces blocked outright
  false block  faces of anyone else (permitted or unknown) blocked
and the review rate: photos with no restricted face that went to review.

Usage: python scripts/evaluate.py FOLDER MANIFEST [--db DB] [--thorough] [--channel C] [--no-ocr]
"""

import argparse
import csv
from collections import defaultdict
from pathlib import Path

BUCKETS = [(0, 48), (48, 64), (64, 100), (100, 200), (200, 10**9)]


def bucket(width):
    if width is None:
        return "no box"
    lo, hi = next(b for b in BUCKETS if b[0] <= width < b[1])
    return f"{lo}-{hi - 1} px" if hi < 10**9 else f">= {lo} px"


def read_manifest(path: Path) -> dict[str, list[dict]]:
    faces = defaultdict(list)
    with open(path, newline="", encoding="utf-8-sig") as f:
        for n, row in enumerate(csv.DictReader(f), 2):
            if not row.get("photo"):
                raise SystemExit(f"{path}: line {n}: photo is required")
            box = None
            if all((row.get(k) or "").strip() for k in ("left", "top", "right", "bottom")):
                box = tuple(int(float(row[k])) for k in ("left", "top", "right", "bottom"))
            faces[row["photo"].strip()].append({"student": (row.get("student_number") or "").strip(), "box": box})
    return faces


def evaluate(folder: Path, manifest: Path, db_path=None, thorough=False, channel=None, ocr=True) -> dict:
    from consentguard import Checker, Policy, open_db
    checker = Checker(open_db(db_path, create=False),
                      Policy(detect_mode="thorough" if thorough else "default", ocr=ocr), record=False, channel=channel)
    restricted = {n for n, s in checker.students.items() if s.photo_restricted}
    stats = defaultdict(lambda: defaultdict(int))
    photos_clean = photos_clean_review = 0
    for photo, labels in read_manifest(manifest).items():
        result = checker.check_path(folder / photo)
        detected = result.decision.faces
        has_restricted = any(l["student"] in restricted for l in labels)
        if not has_restricted:
            photos_clean += 1
            photos_clean_review += result.verdict == "review"
        for label in labels:
            box = label["box"]
            if box:
                inside = [f for f in detected if box[0] <= (f.box[0] + f.box[2]) / 2 <= box[2]
                          and box[1] <= (f.box[1] + f.box[3]) / 2 <= box[3]]
                verdict = max((f.verdict for f in inside), key=["pass", "review", "block"].index, default="missed")
            else:
                mine = [f for f in detected if f.student_number == label["student"]]
                verdict = max((f.verdict for f in mine), key=["pass", "review", "block"].index, default="pass")
            width = box[2] - box[0] if box else None
            for key in ("all", bucket(width)):
                s = stats[key]
                if label["student"] in restricted:
                    s["restricted"] += 1
                    s["flagged"] += verdict in ("block", "review")
                    s["blocked"] += verdict == "block"
                    s["missed"] += verdict == "missed"
                else:
                    s["others"] += 1
                    s["false_block"] += verdict == "block"
    return {"stats": stats, "photos_clean": photos_clean, "photos_clean_review": photos_clean_review}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--db", type=Path)
    ap.add_argument("--thorough", action="store_true")
    ap.add_argument("--channel")
    ap.add_argument("--no-ocr", action="store_true", help="faces only (text in photos is not read)")
    args = ap.parse_args()
    out = evaluate(args.folder, args.manifest, args.db, args.thorough, args.channel, not args.no_ocr)

    def pct(a, b):
        return f"{a / b:6.1%}" if b else "     -"
    print(f"{'faces':<12}{'restricted':>11}{'recall':>8}{'blocked':>9}{'not found':>10}{'others':>8}{'false block':>12}")
    order = ["all"] + [bucket(lo) for lo, _ in BUCKETS] + ["no box"]
    for key in order:
        s = out["stats"].get(key)
        if s:
            print(f"{key:<12}{s['restricted']:>11}{pct(s['flagged'], s['restricted']):>8}"
                  f"{pct(s['blocked'], s['restricted']):>9}{s['missed']:>10}{s['others']:>8}"
                  f"{pct(s['false_block'], s['others']):>12}")
    print(f"review rate: {pct(out['photos_clean_review'], out['photos_clean']).strip()} of "
          f"{out['photos_clean']} photos without a restricted student")


if __name__ == "__main__":
    main()
