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

Without FOLDER and MANIFEST it runs the evaluation of issue #12 (``scripts/evaluate``): builds
the set of scripts/make_eval_set.py once into a cache folder outside the repository, syncs it
into a fresh database with ``consentguard sync`` (the product's defaults; ``--index`` passes
that option on), checks every photo with the default Policy (OCR off unless ``--ocr``) and
prints the figures of the issue's "Measured" table (see docs/evaluation.md):

  python scripts/evaluate.py [--index restricted|all] [--portrait-crop] [--ocr] [--workers 2] [--cache DIR]
"""

import argparse
import csv
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent

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
        detected = slim(result.to_json())["faces"]
        has_restricted = any(label["student"] in restricted for label in labels)
        if not has_restricted:
            photos_clean += 1
            photos_clean_review += result.verdict == "review"
        for label in labels:
            box = label["box"]
            if box:
                verdict = face_verdict(box, detected)
            else:
                mine = [f for f in result.decision.faces if f.student_number == label["student"]]
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


# -- the evaluation of issue #12 (scripts/evaluate without FOLDER MANIFEST) -------------------

SET_SOURCES = ("make_eval_set.py", "make_eval_roster.py")
FLAGGED = ("block", "review")


def default_cache() -> Path:
    """Outside the repository: the set is ~220 MB of JPEGs built from the shared LFW photos."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "consentguard-eval"


def ensure_set(cache: Path, **build) -> Path:
    """The evaluation set for these arguments, built once. The folder's name hashes the arguments
    and the generator's source, so a changed generator builds a new set instead of reusing a stale one."""
    h = hashlib.sha256(json.dumps(build, sort_keys=True, default=str).encode())
    for name in SET_SOURCES:
        h.update((SCRIPTS / name).read_bytes())
    out = cache / f"set-{h.hexdigest()[:12]}"
    if (out / "done").is_file():
        return out
    sys.path.insert(0, str(SCRIPTS))
    from make_eval_set import build as build_set
    tmp = out.with_name(out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"building the evaluation set (once) in {out} ...", file=sys.stderr)
    summary = build_set(tmp, **build)
    (tmp / "done").write_text(summary.replace(str(tmp), str(out)) + "\n")
    shutil.rmtree(out, ignore_errors=True)  # a set left unfinished by an interrupted build
    tmp.rename(out)
    return out


def sync(set_dir: Path, db_path: Path, index: str | None) -> str:
    """``consentguard sync`` as a district runs it: the export and the portraits folder, no options
    but ``--index`` when asked. Status 3 (a restricted student with no usable portrait) is a result."""
    cmd = [sys.executable, "-m", "consentguard", "sync", str(set_dir / "export.csv"),
           "--photos", str(set_dir / "portraits"), "--db", str(db_path)] + (["--index", index] if index else [])
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode not in (0, 3):
        raise SystemExit(f"sync failed ({run.returncode}):\n{run.stdout}{run.stderr}")
    return (run.stdout + run.stderr).strip()


def sync_summary(text: str) -> str:
    """The sync's report in one line: portraits encoded, refused, and any weaker protection."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    encoded = next((line for line in lines if line.startswith("portraits encoded")), "portraits encoded: ?")
    out = f"{encoded}; {sum(line.startswith('!') for line in lines)} portrait(s) not used"
    weaker = next((line for line in lines if line.startswith("Warning:")), None)
    return out + (f"; {weaker.split(':', 2)[-1].split(':')[0].strip()}" if weaker else "")


def read_labels(manifest: Path) -> dict[str, list[dict]]:
    return dict(read_manifest(manifest))


_checker = None


def _init_checker(db_path: str, policy) -> None:
    global _checker
    from consentguard import Checker, open_db
    _checker = Checker(open_db(db_path, create=False), policy, record=False)


def _check_one(path: str) -> tuple[str, dict]:
    return Path(path).name, slim(_checker.check_path(path).to_json())


def slim(doc: dict) -> dict:
    """What the figures need of a result (small to send between processes)."""
    return {"verdict": doc["verdict"], "reasons": doc["reasons"],
            "faces": [{"box": f["box"], "verdict": f["verdict"], "cause": cause(f)} for f in doc["faces"]]}


def cause(face: dict) -> str | None:
    """Why a face is not passed, in a word: near a restricted student, or the kind of problem
    (unprotected, unknown, small, blurred, unclear, ...)."""
    if face["verdict"] == "pass":
        return None
    if face.get("kind"):
        return face["kind"]
    return "near a restricted student" if face.get("student_number") else "other"


def causes(results: list[dict]) -> dict[str, int]:
    """How many faces of these photos were not passed, per cause, most frequent first."""
    counts: dict[str, int] = defaultdict(int)
    for r in results:
        for f in r["faces"]:
            if f.get("cause"):
                counts[f["cause"]] += 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def check_each(db_path: Path, folder: Path, names: list[str], policy, workers: int) -> dict[str, dict]:
    """Each photo checked on its own (``consentguard check``): no photo's result depends on another."""
    paths = [str(folder / n) for n in names]
    if workers <= 1:
        _init_checker(str(db_path), policy)
        return dict(map(_check_one, paths))
    with mp.get_context("spawn").Pool(workers, _init_checker, (str(db_path), policy)) as pool:
        return dict(pool.imap_unordered(_check_one, paths, chunksize=8))


def scan_folder(db_path: Path, folder: Path, policy, workers: int):
    """The event folder as one scan (``consentguard scan``): the results, and the scan's review
    items if the scan lists them (issue #12), else None."""
    from consentguard import open_db
    from consentguard.runners.scan import run_scan
    scan = run_scan(open_db(db_path), str(db_path), folder, policy, workers=workers)
    if scan.interrupted:
        raise SystemExit("the event scan was interrupted")
    results = {Path(r.doc["path"]).name: slim(r.doc) for r in scan.results}
    items = getattr(scan, "review_items", None)
    return results, (None if items is None else list(items))


def face_verdict(box, detected: list[dict]) -> str:
    """The worst verdict of the detected faces whose centre lies in the labelled box; 'missed' if none."""
    inside = [f for f in detected if box[0] <= (f["box"][0] + f["box"][2]) / 2 <= box[2]
              and box[1] <= (f["box"][1] + f["box"][3]) / 2 <= box[3]]
    return max((f["verdict"] for f in inside), key=["pass", "review", "block"].index, default="missed")


def roster_facts(db_path: Path) -> tuple[set[str], set[str], str]:
    """Photo-restricted students, those of them with no usable portrait, and the index policy."""
    from consentguard import open_db
    from consentguard.match.index import load_students, unprotected
    from consentguard.store.db import roster_policies
    db = open_db(db_path, create=False)
    restricted = {n for n, s in load_students(db).items() if s.photo_restricted}
    return restricted, set(unprotected(db)), roster_policies(db)[0]


def measure(set_dir: Path, db_path: Path, policy, workers: int) -> dict:
    """Check the three sets; the figures of issue #12's "Measured" table, with their counts."""
    restricted, unprotected, index_policy = roster_facts(db_path)
    fig = {"index_policy": index_policy, "restricted_people": len(restricted), "unprotected": len(unprotected),
           "seconds": {}}

    t = time.monotonic()
    labels = read_labels(set_dir / "single.csv")
    single = check_each(db_path, set_dir / "single", list(labels), policy, workers)
    fig["seconds"]["single"] = time.monotonic() - t
    whose = {photo: rows[0]["student"] for photo, rows in labels.items()}
    mine = [p for p in labels if whose[p] in restricted]
    usable = [p for p in mine if whose[p] not in unprotected]
    clear = [p for p in labels if whose[p] not in restricted]
    fig["restricted_flagged"] = (sum(single[p]["verdict"] in FLAGGED for p in mine), len(mine))
    fig["restricted_flagged_usable"] = (sum(single[p]["verdict"] in FLAGGED for p in usable), len(usable))
    fig["clear_blocked"] = (sum(single[p]["verdict"] == "block" for p in clear), len(clear))
    fig["clear_review"] = (sum(single[p]["verdict"] == "review" for p in clear), len(clear))
    fig["single_errors"] = sum(r["verdict"] == "error" for r in single.values())
    fig["causes_single"] = causes([single[p] for p in clear if single[p]["verdict"] != "pass"])

    t = time.monotonic()
    labels = read_labels(set_dir / "groups.csv")
    groups = check_each(db_path, set_dir / "groups", list(labels), policy, workers)
    fig["seconds"]["groups"] = time.monotonic() - t
    fig["group_review"] = (sum(r["verdict"] == "review" for r in groups.values()), len(groups))
    fig["group_blocked"] = (sum(r["verdict"] == "block" for r in groups.values()), len(groups))
    faces = [(face_verdict(label["box"], groups[p]["faces"])) for p, rows in labels.items() for label in rows]
    fig["group_faces"] = (sum(v != "missed" for v in faces), len(faces))
    fig["causes_groups"] = causes(list(groups.values()))

    t = time.monotonic()
    labels = read_labels(set_dir / "event.csv")
    event, items = scan_folder(db_path, set_dir / "event", policy, workers)
    fig["seconds"]["event"] = time.monotonic() - t
    with_restricted = [p for p, rows in labels.items() if any(label["student"] in restricted for label in rows)]
    fig["event_photos"] = len(event)
    fig["event_people"] = len({label["student"] for rows in labels.values() for label in rows})
    fig["event_restricted_people"] = len({label["student"] for rows in labels.values() for label in rows} & restricted)
    fig["event_missed"] = (sum(event[p]["verdict"] not in FLAGGED for p in with_restricted), len(with_restricted))
    fig["event_review"] = sum(r["verdict"] == "review" for r in event.values())
    fig["event_blocked"] = sum(r["verdict"] == "block" for r in event.values())
    fig["event_clear_flagged"] = (sum(event[p]["verdict"] in FLAGGED for p in event if p not in with_restricted),
                                  len(event) - len(with_restricted))
    fig["review_items"] = None if items is None else len(items)
    faces = [face_verdict(label["box"], event[p]["faces"]) for p, rows in labels.items() for label in rows
             if label["student"] in restricted]
    fig["event_restricted_faces"] = (sum(v in FLAGGED for v in faces), sum(v == "missed" for v in faces), len(faces))
    return fig


def share(pair: tuple[int, int]) -> str:
    a, b = pair
    return f"{a / b:.1%} ({a} of {b})" if b else "- (none)"


def table(fig: dict) -> str:
    """The issue's table, with the counts behind each figure."""
    items = fig["review_items"]
    decisions = (f"{items} review items; photos in review: {fig['event_review']}" if items is not None else
                 f"{fig['event_review']} (photos in review; this scan lists no review items)")
    ef, em, en = fig["event_restricted_faces"]
    rows = [
        ("restricted adults flagged (block or review)",
         f"{share(fig['restricted_flagged'])}; {share(fig['restricted_flagged_usable'])} of those with a usable "
         f"portrait ({fig['restricted_people'] - fig['unprotected']} of {fig['restricted_people']} people have one)"),
        ("restricted children flagged", "not measured (no children's set)"),
        ("clear single-face photos blocked", share(fig["clear_blocked"])),
        ("clear single-face photos in review", share(fig["clear_review"])),
        ("clear 12 MP group photos in review",
         f"{share(fig['group_review'])}; blocked: {fig['group_blocked'][0]}; faces found: {share(fig['group_faces'])}"),
        (f"event folder, {fig['event_photos']} photos, {fig['event_people']} recurring people "
         f"({fig['event_restricted_people']} restricted): photos with a restricted student missed",
         f"{fig['event_missed'][0]} (of {fig['event_missed'][1]} with one); restricted faces flagged: "
         f"{ef} of {en} ({em} not found)"),
        ("same folder: decisions staff must make", decisions),
        ("same folder: photos without a restricted student flagged", share(fig["event_clear_flagged"])),
    ]
    out = ["| figure | value |", "| --- | --- |"] + [f"| {a} | {b} |" for a, b in rows]
    for key, what in (("causes_single", "clear single-face photos"), ("causes_groups", "group photos")):
        if fig.get(key):
            out.append(f"\nwhy faces of {what} were not passed: "
                       + ", ".join(f"{c} {n}" for c, n in fig[key].items()))
    if fig["single_errors"]:
        out.append(f"\n{fig['single_errors']} single-face photo(s) gave an error (counted as not flagged).")
    return "\n".join(out)


def run_suite(args) -> None:
    import tempfile

    from consentguard import Policy
    build = {"n_people": args.people, "groups": args.groups, "event_photos": args.event_photos,
             "event_people": args.event_people, "event_restricted": args.event_restricted,
             "size": tuple(args.size), **({"lfw": args.lfw.resolve()} if args.lfw else {}),
             **({"portrait_crop": True} if args.portrait_crop else {})}
    started = time.monotonic()
    set_dir = ensure_set(args.cache, **build)
    with tempfile.TemporaryDirectory(prefix="cg-eval-") as tmp:
        db_path = Path(tmp) / "cg.db"
        t = time.monotonic()
        synced = sync(set_dir, db_path, args.index)
        sync_s = time.monotonic() - t
        fig = measure(set_dir, db_path, Policy(ocr=args.ocr), args.workers)
    fig["seconds"] = {"sync": sync_s, **fig["seconds"]}
    print(f"set: {(set_dir / 'done').read_text().strip()}")
    print("sync: " + sync_summary(synced))
    print(f"index policy: {fig['index_policy']} ({'--index ' + args.index if args.index else 'sync default'}); "
          f"default Policy, OCR {'on' if args.ocr else 'off'}; workers {args.workers}")
    print()
    print(table(fig))
    print()
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in fig["seconds"].items())
          + f", total {time.monotonic() - started:.0f}")
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, nargs="?", help="labelled photos (omit both for the issue #12 evaluation)")
    ap.add_argument("manifest", type=Path, nargs="?")
    ap.add_argument("--db", type=Path)
    ap.add_argument("--thorough", action="store_true")
    ap.add_argument("--channel")
    ap.add_argument("--no-ocr", action="store_true", help="faces only (text in photos is not read)")
    suite = ap.add_argument_group("the issue #12 evaluation (no FOLDER MANIFEST)")
    suite.add_argument("--index", choices=["restricted", "all"], help="passed to consentguard sync (default: none)")
    suite.add_argument("--ocr", action="store_true", help="read text in photos too (slower; off by default)")
    suite.add_argument("--workers", type=int, default=2, help="processes checking photos (default 2)")
    suite.add_argument("--cache", type=Path, default=default_cache(), help=f"where the set is built once ({default_cache()})")
    suite.add_argument("--lfw", type=Path, help="LFW deep-funneled folder (default: ../shared/faces/lfw)")
    suite.add_argument("--people", type=int, default=228, help="held-out LFW people (default all 228)")
    suite.add_argument("--groups", type=int, default=20)
    suite.add_argument("--event-photos", type=int, default=48)
    suite.add_argument("--event-people", type=int, default=16)
    suite.add_argument("--event-restricted", type=int, default=3)
    suite.add_argument("--size", type=int, nargs=2, default=[4000, 3000], metavar=("W", "H"),
                       help="group and event photos (default 4000 3000)")
    suite.add_argument("--portrait-crop", action="store_true",
                       help="portraits framed like school portraits (every restricted student's usable)")
    suite.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = ap.parse_args()
    if args.folder is None:
        return run_suite(args)
    if args.manifest is None:
        ap.error("MANIFEST is required with FOLDER")
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
