#!/usr/bin/env python3
"""Calibrate the distance that groups faces of one person across a batch (``group_distance``),
and measure what grouping changes on a simulated event.

Stage 1 (--encode, slow, cached in .cache/groups/lfw_encodings.npz): every LFW photo's central
face, encoded as it is and again from the photo shrunk so the face is about 40 px wide (a face
in a wide shot: too small to identify on its own).

Stage 2 (default): on the *tuning* half of LFW (the people scripts/make_eval_roster.py does not
measure on), for each threshold, the share of same-person pairs of clear faces linked (distance
<= threshold) and of different-person pairs linked, what grouping the whole half as one batch
gives, and whether the two people of the half's closest different-person pair (look-alikes)
stay apart when all their photos are grouped. Pick a threshold with different-person links
<= 0.2% that keeps the look-alikes apart, with room to spare.

Stage 3 (--event): on the measuring half, simulated events of 16 people each (each person's
other photos as probes, 1 in 2 of them as a 40 px wide-shot face; packed --per-photo faces of
different people to a photo), 25% photo-restricted, every person's first photo indexed as their
portrait (index all). Prints photos in review per photo (``decide``) against review items
(``decide_batch``), and restricted faces flagged, before and after grouping.

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
    from PIL import Image

    from consentguard.inspect.faces import Face, detect_faces, encode_face, sharpness
    from consentguard.inspect.image import load_image

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
    alike = _look_alikes(data, people)
    print(f"look-alikes: {' and '.join(alike)}, the closest different-person pair of the half (all their photos "
          "in one batch)")
    print("threshold  same linked  different linked  faces with a stranger within  "
          "one batch: faces grouped with a stranger, same-person pairs together | 40 px face: own nearest within, "
          "stranger within")
    pictures = list(range(len(names)))
    for t in THRESHOLDS:
        person = np.array(group_faces(pictures, list(enc), [True] * len(names), Policy(group_distance=t)))
        together = person[:, None] == person[None, :]
        mixed = (together & ~same).any(axis=1).mean()
        print(f"  {t:.2f}    {(genuine <= t).mean():10.1%}  {(impostor <= t).mean():15.3%}  {(stranger <= t).mean():27.1%}"
              f"  {mixed:27.2%} {together[same & upper].mean():20.1%}   | {(own <= t).mean():8.1%} {(other <= t).mean():8.1%}"
              f"  | look-alikes {'apart' if _apart(data, alike, t) else 'MERGED'}")


def _look_alikes(data: dict, people: set[str]) -> tuple[str, str]:
    """The two people of the closest different-person pair of clear faces among ``people``."""
    keep = np.isin(data["names"], sorted(people))
    names, enc = data["names"][keep], data["plain"][keep]
    d = np.linalg.norm(enc[:, None, :] - enc[None, :, :], axis=2)
    d[names[:, None] == names[None, :]] = np.inf
    a, b = np.unravel_index(np.argmin(d), d.shape)
    return str(names[a]), str(names[b])


def _apart(data: dict, people: tuple[str, str], limit: float) -> bool:
    from consentguard.people import group_faces
    from consentguard.policy import Policy

    keep = np.flatnonzero(np.isin(data["names"], people))
    person = group_faces(list(keep), list(data["plain"][keep]), [True] * len(keep), Policy(group_distance=limit))
    return not any(person[i] == person[j] for i in range(len(keep)) for j in range(len(keep))
                   if data["names"][keep[i]] != data["names"][keep[j]])


def event(data: dict, people: list[str], policy, per_event: int = 16, share: float = 0.25, wide: int = 2,
          per_photo: int = 1) -> None:
    """Simulated events: each person's probe faces (every ``wide``-th one a 40 px wide-shot face)
    packed into photos of up to ``per_photo`` faces of different people; every face of the event
    decided per photo (``decide``) and per person (``decide_batch``)."""
    import random

    from consentguard.decide import BLOCK, PASS, REVIEW, FaceEvidence, RosterContext, decide
    from consentguard.match.index import FaceIndex, Student
    from consentguard.people import PhotoEvidence, decide_batch

    names = data["names"]
    present = [p for p in people if (names == p).sum() >= 2]
    restricted = set(random.Random(7).sample(present, round(len(present) * share)))
    number = {p: str(700000 + i) for i, p in enumerate(present)}
    students = {number[p]: Student(number[p], p.partition("_")[0], p.partition("_")[2], p in restricted, False)
                for p in present}
    first = {p: int(np.flatnonzero(names == p)[0]) for p in present}
    index = FaceIndex(np.array([data["plain"][first[p]] for p in present]), [number[p] for p in present], students)
    context = RosterContext(students, photo_restricted=len(restricted), indexed=len(restricted), sync_id=1)
    rng = random.Random(12)
    order = present[:]
    rng.shuffle(order)
    t = {k: 0 for k in ("events", "photos", "photos_r", "faces_r", "faces_p", "review_before", "review_after",
                        "items", "items_r", "items_single", "flag_before", "flag_after", "rblock_before",
                        "rblock_after", "pblock_before", "pblock_after", "missed_before", "missed_after",
                        "clear_review_before", "clear_review_after", "clear_photos")}
    for start in range(0, len(order), per_event):
        faces = []  # (person, FaceEvidence)
        for person in order[start:start + per_event]:
            for n, k in enumerate(np.flatnonzero(names == person)[1:]):
                small = wide > 0 and n % wide == wide - 1
                enc = data["small"][k] if small else data["plain"][k]
                width = SMALL_PX if small else int(data["widths"][k])
                sharp = float(data["small_sharp"][k] if small else data["sharp"][k])
                faces.append((person, enc, width, sharp))
        rng.shuffle(faces)
        batch, owners = [], []
        while faces:
            here, rest = [], []
            for f in faces:
                (here if len(here) < per_photo and f[0] not in {h[0] for h in here} else rest).append(f)
            faces = rest
            n = len(batch)
            evidence = [FaceEvidence((300 * j, 100, 300 * j + w, 100 + w), index.nearest(e), sharp, encoding=e)
                        for j, (_, e, w, sharp) in enumerate(here)]
            batch.append(PhotoEvidence(f"event{start}/IMG_{n:04d}.jpg", f"e{start}-{n}", evidence))
            owners.append([h[0] for h in here])
        before = [decide(p.faces, p.names, context, policy) for p in batch]
        after, items = decide_batch(batch, context, policy)
        t["events"] += 1
        t["items"] += len(items)
        t["items_single"] += sum(len(i.faces) == 1 for i in items)
        whose = {(b.sha256, f.box): o for b, os_ in zip(batch, owners) for f, o in zip(b.faces, os_)}
        t["items_r"] += sum(any(whose[(f["sha256"], tuple(f["box"]))] in restricted for f in i.faces) for i in items)
        missed = {"before": False, "after": False}
        for os_, b, a in zip(owners, before, after):
            t["photos"] += 1
            t["review_before"] += b.verdict == REVIEW
            t["review_after"] += a.verdict == REVIEW
            if not any(o in restricted for o in os_):
                t["clear_photos"] += 1
                t["clear_review_before"] += b.verdict == REVIEW
                t["clear_review_after"] += a.verdict == REVIEW
            for o, fb, fa in zip(os_, b.faces, a.faces):
                if o in restricted:
                    t["faces_r"] += 1
                    t["flag_before"] += fb.verdict != PASS
                    t["flag_after"] += fa.verdict != PASS
                    t["rblock_before"] += fb.verdict == BLOCK
                    t["rblock_after"] += fa.verdict == BLOCK
                    missed["before"] |= b.verdict == PASS
                    missed["after"] |= a.verdict == PASS
                else:
                    t["faces_p"] += 1
                    t["pblock_before"] += fb.verdict == BLOCK
                    t["pblock_after"] += fa.verdict == BLOCK
        t["missed_before"] += missed["before"]
        t["missed_after"] += missed["after"]
    shots = f"1 in {wide} faces a {SMALL_PX} px wide-shot face" if wide else "no wide shots"
    print(f"{len(present)} people ({len(restricted)} photo-restricted, index all), {t['events']} events of {per_event} "
          f"people, {t['photos']} photos of up to {per_photo} faces, {shots}; group_distance "
          f"{policy.group_distance}, group_margin {policy.group_margin}")
    rows = [
        ("photos in review", t["review_before"], t["review_after"]),
        (f"photos without a restricted face in review (of {t['clear_photos']})", t["clear_review_before"],
         t["clear_review_after"]),
        ("decisions staff must make (after: review items)", t["review_before"], t["items"]),
        ("  items showing a restricted person", "", t["items_r"]),
        ("  items covering a single face", "", t["items_single"]),
        (f"restricted faces flagged (of {t['faces_r']})", t["flag_before"], t["flag_after"]),
        (f"restricted faces blocked (of {t['faces_r']})", t["rblock_before"], t["rblock_after"]),
        (f"permitted faces blocked (of {t['faces_p']})", t["pblock_before"], t["pblock_after"]),
        ("events with a restricted face in a passed photo", t["missed_before"], t["missed_after"]),
    ]
    print(f"{'figure':58s} {'per photo':>9s} {'per person':>10s}")
    for label, b, a in rows:
        print(f"{label:58s} {b!s:>9s} {a!s:>10s}")


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
    ap.add_argument("--wide", type=int, default=2, help="every WIDE-th face of a person is a 40 px face (0: none)")
    ap.add_argument("--per-photo", type=int, default=1, help="faces of different people per photo (--event)")
    args = ap.parse_args()
    if args.encode:
        encode_all(args.lfw, args.cache, args.people)
        return
    tune, measure = halves(args.lfw)
    data = load(args.cache)
    if args.event:
        from consentguard.policy import Policy

        policy = Policy().with_(group_distance=args.group_distance, group_margin=args.group_margin)
        event(data, sorted(tune if args.on_tuning_half else measure), policy, args.per_event, wide=args.wide, per_photo=args.per_photo)
    else:
        link_rates(data, tune)


if __name__ == "__main__":
    main()
