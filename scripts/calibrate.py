#!/usr/bin/env python3
"""Calibrate the face-matching thresholds on LFW, split by person.

Stage 1 (--encode, slow, cached): for every photo of every LFW person, encode
the central face three ways: plain (1 jitter), of the mirrored photo (a
"flipped probe"), and, for each person's first photo, with 10 jitters (a
"jittered enrolment"). Cached in .cache/calibration/lfw_encodings.npz.

Stage 2 (default): split people in two halves by a fixed seed; tune on one,
report on the other. See the module's README section for what is printed.

Usage: python scripts/calibrate.py [--encode] [--lfw DIR] [--curve | --candidates]
"""

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "calibration" / "lfw_encodings.npz"


def encode_all(lfw: Path) -> None:
    from consentguard.faces import Face, detect_faces, encode_face
    from consentguard.image import load_image

    people = sorted(p for p in lfw.iterdir() if p.is_dir())
    names, files, plain, flipped, jittered, widths = [], [], [], [], [], []
    start = time.time()
    for k, person in enumerate(people):
        for i, path in enumerate(sorted(person.glob("*.jpg"))):
            rgb = load_image(path).rgb
            faces = detect_faces(rgb)
            if not faces:
                continue
            h, w = rgb.shape[:2]
            face = min(faces, key=lambda f: abs((f.box[0] + f.box[2]) / 2 - w / 2) + abs((f.box[1] + f.box[3]) / 2 - h / 2))
            mirror = np.ascontiguousarray(rgb[:, ::-1])
            l, t, r, b = face.box
            names.append(person.name)
            files.append(path.name)
            widths.append(face.width)
            plain.append(encode_face(rgb, face))
            flipped.append(encode_face(mirror, Face((w - r, t, w - l, b))))
            jittered.append(encode_face(rgb, face, 10) if i == 0 else np.full(128, np.nan))
        if k % 50 == 0:
            print(f"{k}/{len(people)} people, {len(names)} faces, {time.time() - start:.0f} s", file=sys.stderr)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, names=np.array(names), files=np.array(files), widths=np.array(widths),
             plain=np.array(plain), flipped=np.array(flipped), jittered=np.array(jittered))
    print(f"wrote {CACHE}: {len(names)} faces of {len(set(names))} people", file=sys.stderr)


LEVERS = {
    # name: (enrolment encodings, probe encodings, portraits per person, index policy)
    "baseline: 1 portrait, restricted-only index": ("plain", "plain", 1, "restricted"),
    "jittered enrolment (10 jitters)": ("jittered", "plain", 1, "restricted"),
    "flipped probe (mean of photo and mirror)": ("plain", "mean", 1, "restricted"),
    "2 portraits per student": ("plain", "plain", 2, "restricted"),
    "all-student index + margin rule": ("plain", "plain", 1, "all"),
    "all of the above": ("jittered", "mean", 2, "all"),
}


def load():
    d = np.load(CACHE)
    mean = d["plain"] + d["flipped"]
    mean /= np.linalg.norm(mean, axis=1, keepdims=True) / np.linalg.norm(d["plain"], axis=1, keepdims=True)
    return d["names"], d["plain"], mean, d["jittered"]


def school(names, people, enrol, probe_enc, per_person, restricted_share, rng):
    """Gallery (portraits) and probes (the other photos) for one simulated roster."""
    gallery, owners, probes, probe_owner = [], [], [], []
    for person in people:
        rows = np.flatnonzero(names == person)
        k = min(per_person, len(rows) - 1)
        gallery += [enrol[row] for row in rows[:k]]
        owners += [person] * k
        probes += [probe_enc[row] for row in rows[k:]]
        probe_owner += [person] * (len(rows) - k)
    restricted = set(rng.choice(people, max(1, round(len(people) * restricted_share)), replace=False))
    return np.array(gallery), np.array(owners), np.array(probes), np.array(probe_owner), restricted


def draws_for(names, half, lever, restricted_share, draws, seed, stores, probe_store=None, probe_found=None):
    """Per simulated roster: nearest restricted distance r, nearest permitted p (inf
    with a restricted-only index) and whether the probe is a restricted student."""
    enc, probe, per, index = lever
    plain, mean, jittered = stores
    enrol = np.where(np.isnan(jittered).any(axis=1)[:, None], plain, jittered) if enc == "jittered" else plain
    rng = np.random.default_rng(seed)
    out = []
    probes = probe_store if probe_store is not None else (mean if probe == "mean" else plain)
    for _ in range(draws):
        g, o, pr, po, restricted = school(names, half, enrol, probes, per, restricted_share, rng)
        gallery_r = np.array([x in restricted for x in o])
        d = np.linalg.norm(pr[:, None, :] - g[None, :, :], axis=2)
        r = np.where(gallery_r[None, :], d, np.inf).min(axis=1)
        p = (np.where(~gallery_r[None, :], d, np.inf).min(axis=1) if index == "all"
             else np.full(len(pr), np.inf))
        is_r = np.array([x in restricted for x in po])
        if probe_found is not None:
            rows = np.concatenate([np.flatnonzero(names == person)[min(per, (names == person).sum() - 1):]
                                   for person in half])
            out.append((r, p, is_r, probe_found[rows]))
        else:
            out.append((r, p, is_r))
    return out


def verdicts(r, p, block, review, margin):
    """The decision rules of consentguard.decide, vectorised over probes."""
    out = np.full(len(r), "pass", dtype=object)
    out[(r <= review) & ~(p + margin <= r)] = "review"
    out[(r <= block) & (p < r + margin)] = "review"
    out[(r <= block) & ~(p < r + margin)] = "block"
    return out


def measure(data, block, review, margin):
    """(flagged, blocked) among restricted probes; (false block, review) among the others."""
    rows = []
    for r, p, is_r in data:
        v = verdicts(r, p, block, review, margin)
        rows.append(((v[is_r] != "pass").mean(), (v[is_r] == "block").mean(),
                     (v[~is_r] == "block").mean(), (v[~is_r] == "review").mean()))
    return np.array(rows).mean(axis=0)


def tune(data, margin):
    grid = np.round(np.arange(0.30, 0.80, 0.01), 2)
    review = next((t for t in grid if measure(data, t, t, margin)[0] >= 0.99), grid[-1])
    block = max((t for t in grid if t <= review and measure(data, t, review, margin)[2] <= 0.01),
                default=grid[0])
    return block, review


def analyse(share: float, draws: int, margin: float) -> None:
    names, plain, mean, jittered = load()
    people = sorted(set(names))
    rng = np.random.default_rng(2026)
    rng.shuffle(people)
    tune_half, test_half = people[: len(people) // 2], people[len(people) // 2:]
    stores = (plain, mean, jittered)
    print(f"LFW: {len(names)} faces of {len(people)} people; tuned on {len(tune_half)}, measured on "
          f"{len(test_half)} others; {share:.0%} of each roster photo-restricted; {draws} draws; margin {margin}")
    print("targets: restricted faces flagged >= 99% (tune half); false block <= 1% (tune half)")
    print(f"{'lever':<46}{'block<=':>8}{'review<=':>9}{'flagged':>9}{'blocked':>9}{'false block':>12}{'review rate':>12}")
    for label, lever in LEVERS.items():
        block, review = tune(draws_for(names, tune_half, lever, share, draws, 1, stores), margin)
        flagged, blocked, false_block, review_rate = measure(
            draws_for(names, test_half, lever, share, draws, 2, stores), block, review, margin)
        print(f"{label:<46}{block:>8.2f}{review:>9.2f}{flagged:>9.1%}{blocked:>9.1%}{false_block:>12.1%}"
              f"{review_rate:>12.1%}")


def held_out():
    """The encodings, the people measured on (the same split as ``analyse``) and the encoding stores."""
    names, plain, mean, jittered = load()
    people = sorted(set(names))
    rng = np.random.default_rng(2026)
    rng.shuffle(people)
    return names, people[len(people) // 2:], (plain, mean, jittered)


def curve(share: float, draws: int, margin: float, block: float) -> None:
    """Held-out recall, false block and review rate as the review threshold moves."""
    names, test_half, stores = held_out()
    print(f"held-out curve, block <= {block:.2f}, {share:.0%} restricted, margin {margin}")
    print(f"{'review<=':>9}  {'restricted-only index: flagged / false block / review':<56}"
          f"{'all-student index: flagged / false block / review'}")
    data = {k: draws_for(names, test_half, LEVERS[k], share, draws, 2, stores)
            for k in ("baseline: 1 portrait, restricted-only index", "all-student index + margin rule")}
    for review in np.round(np.arange(0.55, 0.67, 0.01), 2):
        cells = []
        for d in data.values():
            flagged, _, false_block, review_rate = measure(d, block, review, margin)
            cells.append(f"{flagged:7.1%} / {false_block:5.1%} / {review_rate:6.1%}")
        print(f"{review:>9.2f}  {cells[0]:<56}{cells[1]}")


SMALL = ROOT / ".cache" / "calibration" / "lfw_small.npz"
WIDTHS = (40, 60, 80)


def _encode_small(job):
    """One probe photo shrunk so its central face is ``width`` px wide: its encoding, or None if not found."""
    path, width = job
    from PIL import Image

    from consentguard.faces import detect_faces, encode_face
    from consentguard.image import load_image

    rgb = load_image(path).rgb
    h, w = rgb.shape[:2]

    def central(faces):
        return min(faces, key=lambda f: abs((f.box[0] + f.box[2]) / 2 - w / 2) + abs((f.box[1] + f.box[3]) / 2 - h / 2))

    faces = detect_faces(rgb)
    if not faces:
        return None
    k = width / central(faces).width
    small = np.asarray(Image.fromarray(rgb).resize((max(1, round(w * k)), max(1, round(h * k))), Image.LANCZOS))
    w, h = small.shape[1], small.shape[0]
    found = detect_faces(small)
    if not found:
        return None
    face = central(found)
    if abs((face.box[0] + face.box[2]) / 2 - w / 2) > width or abs((face.box[1] + face.box[3]) / 2 - h / 2) > width:
        return None  # the central face was not found; another one was
    return encode_face(small, face), face.confirmed


def encode_small(lfw: Path) -> None:
    """Encode every held-out probe photo with its face shrunk to each of WIDTHS (cached)."""
    import multiprocessing as mp

    d = np.load(CACHE)
    names, files = d["names"], d["files"]
    _, test_half, _ = held_out()
    rows = [i for person in test_half for i in np.flatnonzero(names == person)[1:]]
    jobs = [(lfw / names[i] / files[i], width) for width in WIDTHS for i in rows]
    with mp.get_context("spawn").Pool() as pool:
        results = pool.map(_encode_small, jobs, chunksize=8)
    out = {}
    for n, width in enumerate(WIDTHS):
        enc = np.full((len(names), 128), np.nan)
        confirmed = np.zeros(len(names), dtype=bool)
        for k, i in enumerate(rows):
            r = results[n * len(rows) + k]
            if r is not None:
                enc[i], confirmed[i] = r
        out[f"w{width}"], out[f"c{width}"] = enc, confirmed
    np.savez(SMALL, rows=np.array(rows), **out)
    print(f"wrote {SMALL}: {len(rows)} probes x {len(WIDTHS)} widths", file=sys.stderr)


def sizes(share: float, draws: int, margin: float, block: float, review: float, min_face: int) -> None:
    """Held-out figures per face width: restricted faces found, flagged and blocked; innocent
    faces falsely blocked and sent to review; with faces under ``min_face`` px never passing."""
    names, test_half, stores = held_out()
    small = np.load(SMALL)
    print(f"held-out probes shrunk to each width, block <= {block:.2f}, review <= {review:.2f}, "
          f"faces under {min_face} px never pass; {share:.0%} restricted, restricted-only index, 1 portrait")
    print(f"{'width':>6}{'found':>8}{'flagged':>9}{'blocked':>9}{'false block':>12}{'review rate':>12}  "
          f"{'false block at block <= 0.45':>28}")
    for width in WIDTHS:
        enc = small[f"w{width}"]
        found = ~np.isnan(enc).any(axis=1)
        probe = np.where(found[:, None], enc, stores[0])  # stand-in where not found; counted as missed below
        rows = []
        for b in (block, 0.45):
            data = draws_for(names, test_half, LEVERS["baseline: 1 portrait, restricted-only index"], share, draws, 2,
                             (stores[0], stores[1], stores[2]), probe_store=probe, probe_found=found)
            rows.append(measure_found(data, b, review, margin, width < min_face))
        f, fl, bl, fb, rr = rows[0]
        print(f"{width:>6}{f:>8.1%}{fl:>9.1%}{bl:>9.1%}{fb:>12.1%}{rr:>12.1%}  {rows[1][3]:>28.1%}")


def measure_found(data, block, review, margin, never_pass):
    """Like ``measure``, with faces not found counted as passes and, if ``never_pass``, no face passing."""
    out = []
    for r, p, is_r, found in data:
        v = verdicts(r, p, block, review, margin)
        if never_pass:
            v[v == "pass"] = "review"
        v[~found] = "pass"
        out.append((found[is_r].mean(), (v[is_r] != "pass").mean(), (v[is_r] == "block").mean(),
                    (v[~is_r] == "block").mean(), (v[~is_r] == "review").mean()))
    return np.array(out).mean(axis=0)


CANDIDATES = [  # (lever, block, review): the rows of models/README.md's "held-out figures" table
    ("baseline: 1 portrait, restricted-only index", 0.47, 0.60),
    ("baseline: 1 portrait, restricted-only index", 0.50, 0.62),
    ("baseline: 1 portrait, restricted-only index", 0.50, 0.63),
    ("baseline: 1 portrait, restricted-only index", 0.52, 0.62),
    ("2 portraits per student", 0.50, 0.60),
    ("all-student index + margin rule", 0.50, 0.63),
    ("all-student index + margin rule", 0.50, 0.65),
]


def candidates(share: float, draws: int, margin: float) -> None:
    """Held-out figures at fixed candidate thresholds."""
    names, test_half, stores = held_out()
    print(f"held-out, {share:.0%} restricted, margin {margin}")
    print(f"{'configuration':<46}{'block<=':>8}{'review<=':>9}{'flagged':>9}{'blocked':>9}{'false block':>12}"
          f"{'review rate':>12}")
    for label, block, review in CANDIDATES:
        flagged, blocked, false_block, review_rate = measure(
            draws_for(names, test_half, LEVERS[label], share, draws, 2, stores), block, review, margin)
        print(f"{label:<46}{block:>8.2f}{review:>9.2f}{flagged:>9.1%}{blocked:>9.1%}{false_block:>12.1%}"
              f"{review_rate:>12.1%}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encode", action="store_true")
    ap.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "faces" / "lfw")
    ap.add_argument("--restricted", type=float, default=0.10, help="share of each roster photo-restricted")
    ap.add_argument("--draws", type=int, default=20, help="random rosters averaged")
    ap.add_argument("--margin", type=float, default=0.05)
    ap.add_argument("--curve", action="store_true", help="print the held-out curve at block <= 0.50 instead")
    ap.add_argument("--candidates", action="store_true", help="print held-out figures at candidate defaults")
    ap.add_argument("--sizes", action="store_true",
                    help="held-out figures per face width (encodes shrunk probes once, about 3 minutes)")
    args = ap.parse_args()
    if (args.encode and not args.sizes) or not CACHE.is_file():
        encode_all(args.lfw)
    if args.curve:
        curve(args.restricted, args.draws, args.margin, 0.50)
    elif args.candidates:
        candidates(args.restricted, args.draws, args.margin)
    elif args.sizes:
        if args.encode or not SMALL.is_file():
            encode_small(args.lfw)
        sizes(args.restricted, args.draws, args.margin, 0.50, 0.63, 60)
    else:
        analyse(args.restricted, args.draws, args.margin)


if __name__ == "__main__":
    main()
