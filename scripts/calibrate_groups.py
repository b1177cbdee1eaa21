#!/usr/bin/env python3
"""Calibrate the distance that groups faces of one person across a batch (``group_distance``),
and measure what grouping changes on a simulated event.

Stage 1 (--encode, slow, cached in .cache/groups/lfw_encodings.npz): every LFW photo's central
face, encoded as it is and again from the photo shrunk so the face is about 40 px wide (a face
in a wide shot: too small to identify on its own).

Stage 2 (default): on the *tuning* half of LFW (the people scripts/make_eval_roster.py does not
measure on), for each threshold, the share of same-person pairs of clear faces linked (distance
<= threshold) and of different-person pairs linked. Pick the largest threshold with
different-person links <= 0.2%.

Stage 3 (--event): on the measuring half, a simulated event: people's photos in batches of
16 people (each person's probes, half of them as 40 px wide-shot faces), 25% photo-restricted,
every person's first photo indexed as their portrait. Prints photos in review per photo
(``decide``) against review items (``decide_batch``), and restricted faces flagged before/after.

Usage: python scripts/calibrate_groups.py [--encode [--people N]] [--event [--wide N] [--on-tuning-half]]
                                          [--group-distance D] [--group-margin M] [--lfw DIR] [--cache FILE]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "groups" / "lfw_encodings.npz"
LFW = ROOT.parent / "shared" / "faces" / "lfw"
SMALL_PX = 40  # the width of a face in a wide shot, below min_face_px
THRESHOLDS = (0.40, 0.42, 0.44, 0.45, 0.46, 0.48, 0.50, 0.52, 0.55, 0.58, 0.60)


def encode_all(lfw: Path, cache: Path = CACHE, limit: int | None = None) -> None:
    from consentguard.faces import Face, detect_faces, encode_face, sharpness
    from consentguard.image import load_image
    from PIL import Image

    people = sorted(p for p in lfw.iterdir() if p.is_dir())[:limit]
    rows = {k: [] for k in ("names", "files", "widths", "plain", "small", "sharp", "small_sharp")}
    start = time.time()
    for k, person in enumerate(people):
        for path in sorted(person.glob("*.jpg")):
            rgb = load_image(path).rgb
            faces = detect_faces(rgb)
            if not faces:
                continue
            h, w = rgb.shape[:2]
            face = min(faces, key=lambda f: abs((f.box[0] + f.box[2]) / 2 - w / 2) + abs((f.box[1] + f.box[3]) / 2 - h / 2))
            scale = SMALL_PX / face.width
            small = np.asarray(Image.fromarray(rgb).resize((round(w * scale), round(h * scale)), Image.LANCZOS))
            box = tuple(round(c * scale) for c in face.box)
            rows["names"].append(person.name)
            rows["files"].append(path.name)
            rows["widths"].append(face.width)
            rows["plain"].append(encode_face(rgb, face))
            rows["sharp"].append(sharpness(rgb, face.box))
            rows["small"].append(encode_face(small, Face(box)))
            rows["small_sharp"].append(sharpness(small, box))
        if k % 50 == 0:
            print(f"{k}/{len(people)} people, {len(rows['names'])} faces, {time.time() - start:.0f} s", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **{k: np.array(v) for k, v in rows.items()})
    print(f"wrote {cache}: {len(rows['names'])} faces of {len(people)} people", file=sys.stderr)


def halves(lfw: Path) -> tuple[set[str], set[str]]:
    """(tuning people, measuring people): the measuring half is make_eval_roster.held_out_people."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_eval_roster import held_out_people

    measure = {p.name for p in held_out_people(lfw)}
    everyone = {p.name for p in lfw.iterdir() if p.is_dir()}
    return everyone - measure, measure


def load(cache: Path = CACHE) -> dict:
    if not cache.is_file():
        sys.exit(f"{cache} missing: run with --encode first")
    return dict(np.load(cache))


def link_rates(data: dict, people: set[str]) -> None:
    """Per threshold: pairs linked (same person, different people), the share of clear faces with some
    other person's face within it, and what complete linkage of the whole half as one batch gives
    (faces grouped with someone else's face; same-person pairs in one group)."""
    from consentguard.people import group_faces
    from consentguard.policy import Policy

    keep = np.isin(data["names"], sorted(people))
    names, enc, small = data["names"][keep], data["plain"][keep], data["small"][keep]
    d = np.linalg.norm(enc[:, None, :] - enc[None, :, :], axis=2)
    same = names[:, None] == names[None, :]
    upper = np.triu(np.ones_like(same), 1).astype(bool)
    genuine, impostor = d[same & upper], d[~same & upper]
    stranger = np.where(same, np.inf, d).min(axis=1)
    # a 40 px face against the clear faces of the other photos
    ds = np.linalg.norm(small[:, None, :] - enc[None, :, :], axis=2)
    np.fill_diagonal(ds, np.inf)
    own = np.where(same, ds, np.inf).min(axis=1)
    other = np.where(same, np.inf, ds).min(axis=1)
    print(f"tuning half: {len(set(names))} people, {len(names)} clear faces, {len(genuine)} same-person pairs, "
          f"{len(impostor)} different-person pairs; closest different-person pair {impostor.min():.3f}")
    print("threshold  same linked  different linked  faces with a stranger within  "
          "one batch: faces grouped with a stranger, same-person pairs together | 40 px face: own nearest within, "
          "stranger within")
    pictures = list(range(len(names)))
    for t in THRESHOLDS:
        person = np.array(group_faces(pictures, list(enc), [True] * len(names), Policy(group_distance=t)))
        together = person[:, None] == person[None, :]
        mixed = (together & ~same).any(axis=1).mean()
        print(f"  {t:.2f}    {(genuine <= t).mean():10.1%}  {(impostor <= t).mean():15.3%}  {(stranger <= t).mean():27.1%}"
              f"  {mixed:27.2%} {together[same & upper].mean():20.1%}   | {(own <= t).mean():8.1%} {(other <= t).mean():8.1%}")


def event(data: dict, people: list[str], policy, per_event: int = 16, share: float = 0.25, wide: int = 2) -> None:
    """Simulated events on the measuring half: per photo (decide) against per person (decide_batch)."""
    import random

    from consentguard.decide import BLOCK, REVIEW, FaceEvidence, RosterContext, decide
    from consentguard.index import FaceIndex, Student
    from consentguard.people import PhotoEvidence, decide_batch
    names = data["names"]
    present = [p for p in people if (names == p).sum() >= 2]
    restricted = set(random.Random(7).sample(present, round(len(present) * share)))
    number = {p: str(700000 + i) for i, p in enumerate(present)}
    students = {number[p]: Student(number[p], p.partition("_")[0], p.partition("_")[2], p in restricted, False) for p in present}
    first = {p: int(np.flatnonzero(names == p)[0]) for p in present}
    index = FaceIndex(np.array([data["plain"][first[p]] for p in present]), [number[p] for p in present], students)
    context = RosterContext(students, photo_restricted=len(restricted), indexed=len(restricted), sync_id=1)
    rng = random.Random(12)
    order = present[:]
    rng.shuffle(order)
    totals = {k: 0 for k in ("photos", "restricted", "flag_before", "flag_after", "permitted", "block_before",
                             "block_after", "review_before", "review_after", "items", "events", "missed_events",
                             "rblock_before", "rblock_after", "preview_before", "preview_after",
                             "items_restricted", "items_single", "missed_events_before")}
    for start in range(0, len(order), per_event):
        batch, owner = [], []
        for person in order[start:start + per_event]:
            for n, k in enumerate(np.flatnonzero(names == person)[1:]):
                small = wide > 0 and n % wide == wide - 1  # every wide-th photo of a person: a 40 px face
                enc = data["small"][k] if small else data["plain"][k]
                width = SMALL_PX if small else int(data["widths"][k])
                sharp = float(data["small_sharp"][k] if small else data["sharp"][k])
                face = FaceEvidence((100, 100, 100 + width, 100 + width), index.nearest(enc), sharp, encoding=enc)
                batch.append(PhotoEvidence(f"event{start}/{person}_{n}.jpg", f"{person}{n}", [face]))
                owner.append(person)
        rng.shuffle(order_pairs := list(zip(batch, owner)))
        batch, owner = [b for b, _ in order_pairs], [o for _, o in order_pairs]
        before = [decide(p.faces, p.names, context, policy) for p in batch]
        after, items = decide_batch(batch, context, policy)
        totals["events"] += 1
        missed = missed_before = False
        for person, b, a in zip(owner, before, after):
            totals["photos"] += 1
            if person in restricted:
                totals["restricted"] += 1
                totals["flag_before"] += b.verdict in (BLOCK, REVIEW)
                totals["flag_after"] += a.verdict in (BLOCK, REVIEW)
                totals["rblock_before"] += b.verdict == BLOCK
                totals["rblock_after"] += a.verdict == BLOCK
                missed |= a.verdict not in (BLOCK, REVIEW)
                missed_before |= b.verdict not in (BLOCK, REVIEW)
            else:
                totals["permitted"] += 1
                totals["block_before"] += b.verdict == BLOCK
                totals["block_after"] += a.verdict == BLOCK
                totals["preview_before"] += b.verdict == REVIEW
                totals["preview_after"] += a.verdict == REVIEW
            totals["review_before"] += b.verdict == REVIEW
            totals["review_after"] += a.verdict == REVIEW
        totals["items"] += len(items)
        whose = {p.sha256: o for p, o in zip(batch, owner)}
        totals["items_restricted"] += sum(any(whose[f["sha256"]] in restricted for f in i.faces) for i in items)
        totals["items_single"] += sum(len(i.faces) == 1 for i in items)
        totals["missed_events"] += missed
        totals["missed_events_before"] += missed_before
    t = totals
    print(f"{len(present)} people ({len(restricted)} photo-restricted, index all), "
          f"{t['events']} events of {per_event} people, {t['photos']} single-face photos, "
          f"{f'1 in {wide} a {SMALL_PX} px wide-shot face' if wide else 'no wide shots'}; group_distance {policy.group_distance}, group_margin {policy.group_margin}")
    print("figure                                   per photo   per person")
    print(f"photos in review                          {t['review_before']:9d}   {t['review_after']:10d}")
    print(f"decisions staff must make                 {t['review_before']:9d}   {t['items']:10d} (review items)")
    print(f"  of them showing a restricted person     {'':9s}   {t['items_restricted']:10d}")
    print(f"  of them covering a single face          {'':9s}   {t['items_single']:10d}")
    print(f"restricted faces flagged (of {t['restricted']})         {t['flag_before']:9d}   {t['flag_after']:10d}")
    print(f"restricted faces blocked (of {t['restricted']})         {t['rblock_before']:9d}   {t['rblock_after']:10d}")
    print(f"permitted photos in review (of {t['permitted']})      {t['preview_before']:9d}   {t['preview_after']:10d}")
    print(f"permitted photos blocked (of {t['permitted']})        {t['block_before']:9d}   {t['block_after']:10d}")
    print(f"events with a restricted photo missed     {t['missed_events_before']:9d}   {t['missed_events']:10d}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encode", action="store_true")
    ap.add_argument("--event", action="store_true")
    ap.add_argument("--lfw", type=Path, default=LFW)
    ap.add_argument("--cache", type=Path, default=CACHE, help=f"the encodings (default: {CACHE.relative_to(ROOT)})")
    ap.add_argument("--people", type=int, help="--encode only the first N people (a quick check)")
    ap.add_argument("--group-distance", type=float, help="instead of the default (--event)")
    ap.add_argument("--group-margin", type=float, help="instead of the default (--event)")
    ap.add_argument("--on-tuning-half", action="store_true",
                    help="run the simulated events on the tuning half (to choose settings; report the measuring half)")
    ap.add_argument("--per-event", type=int, default=16, help="people per simulated event (--event)")
    ap.add_argument("--wide", type=int, default=2, help="every WIDE-th photo of a person is a 40 px face (0: none)")
    args = ap.parse_args()
    if args.encode:
        encode_all(args.lfw, args.cache, args.people)
        return
    tune, measure = halves(args.lfw)
    data = load(args.cache)
    if args.event:
        from consentguard.policy import Policy

        policy = Policy().with_(group_distance=args.group_distance, group_margin=args.group_margin)
        event(data, sorted(tune if args.on_tuning_half else measure), policy, args.per_event, wide=args.wide)
    else:
        link_rates(data, tune)


if __name__ == "__main__":
    main()
