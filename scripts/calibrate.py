#!/usr/bin/env python3
"""Calibrate the face-matching thresholds on LFW, split by person, with the product's own rules.

Stage 1 (--encode, about 20 minutes of two cores, cached in .cache/calibration/lfw_sizes.npz):
every LFW photo goes through consentguard.inspect.faces as the product runs it (``find_and_encode``:
CenterFace proposals, dlib HOG confirmation, sharpness, encoding) at full size; each person's second
photo is also shrunk so that its face is 24, 32, 40, 48, 60 and 80 px wide and goes through it again.

Stage 2: the people are split in two halves: scripts/make_eval_roster.py's ``held_out_people`` is
the measuring half, the rest the tuning half. Each simulated school takes a share of the people as
strangers (no portrait) and makes a share of the rest photo-restricted; each student's first photo
(or first two) is their SIS portrait; every other photo is a probe. Each probe is judged by
``consentguard.decide.judge_face`` (not a copy of its rules) with the nearest students as the index
would give them. The figures are in models/README.md.

Usage: python scripts/calibrate.py [--encode] [--lfw DIR] [--tune] [--at BLOCK,REVIEW,MARGIN ...]
                                   [--recognise] [--sizes [--floor PX --within D --band-margin M --band-review D]]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
CACHE = ROOT / ".cache" / "calibration" / "lfw_sizes.npz"
LFW = ROOT.parent / "shared" / "faces" / "lfw"
#: face widths (px) each shrunk probe is measured at; "full" is the photo as it is (LFW: 95-115 px faces)
WIDTHS = (24, 32, 40, 48, 60, 80)
#: which of a person's photos are shrunk (0 is the portrait)
SHRUNK = (1,)


def _central(faces, width: int, height: int):
    """The face nearest the centre (LFW's subject), or None if none is near it."""
    if not faces:
        return None
    face = min(faces, key=lambda f: abs((f.box[0] + f.box[2]) / 2 - width / 2) + abs((f.box[1] + f.box[3]) / 2 - height / 2))
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    if abs(cx - width / 2) > max(face.width, 12) or abs(cy - height / 2) > max(face.width, 12):
        return None  # the subject was not found; someone at the edge was
    return face


def _record(face):
    """(encoding or NaNs, width, confirmed, sharpness) of a found face, or NaNs when not found."""
    if face is None:
        return np.full(128, np.nan), 0, False, np.nan
    enc = face.encoding if face.encoding is not None else np.full(128, np.nan)
    return enc, face.width, face.confirmed, face.sharpness


def _encode_photo(job):
    """One photo at full size and, if ``shrink``, with its face at each of WIDTHS."""
    path, shrink = job
    from PIL import Image

    from consentguard.inspect.faces import find_and_encode
    from consentguard.inspect.image import load_image

    rgb = load_image(path).rgb
    h, w = rgb.shape[:2]
    full = _central(find_and_encode(rgb), w, h)
    out = [_record(full)]
    for width in WIDTHS:
        if not shrink or full is None:
            out.append(_record(None))
            continue
        k = width / full.width
        small = np.asarray(Image.fromarray(rgb).resize((max(1, round(w * k)), max(1, round(h * k))), Image.LANCZOS))
        out.append(_record(_central(find_and_encode(small), small.shape[1], small.shape[0])))
    return out


def encode_all(lfw: Path) -> None:
    """Encode every photo (in a shuffled order, saved every 100 photos: an interrupted run leaves a
    random subset of the people, which stage 2 reads as it is)."""
    import multiprocessing as mp

    people = sorted(p for p in lfw.iterdir() if p.is_dir())
    names, files, jobs = [], [], []
    for person in people:
        for i, path in enumerate(sorted(person.glob("*.jpg"))):
            names.append(person.name)
            files.append(path.name)
            jobs.append((path, i in SHRUNK))
    order = np.random.default_rng(0).permutation(len(people))
    rank = {p.name: r for r, p in zip(np.argsort(order), people)}
    todo = sorted(range(len(jobs)), key=lambda j: rank[names[j]])  # person by person, in a random order
    start = time.time()
    results = [[_record(None)] * (1 + len(WIDTHS)) for _ in jobs]
    done = np.zeros(len(jobs), dtype=bool)
    with mp.get_context("spawn").Pool(2) as pool:
        for n, (j, r) in enumerate(zip(todo, pool.imap(_encode_photo, [jobs[j] for j in todo], chunksize=2))):
            results[j], done[j] = r, True
            if n % 100 == 99 or n == len(todo) - 1:
                _save(names, files, results, done)
                print(f"{n + 1}/{len(jobs)} photos, {time.time() - start:.0f} s", file=sys.stderr)
    print(f"wrote {CACHE}: {len(names)} photos of {len(people)} people, {time.time() - start:.0f} s", file=sys.stderr)


def _save(names, files, results, done) -> None:
    out = {}
    for s, size in enumerate(("full",) + WIDTHS):
        out[f"enc_{size}"] = np.array([r[s][0] for r in results])
        out[f"width_{size}"] = np.array([r[s][1] for r in results])
        out[f"confirmed_{size}"] = np.array([r[s][2] for r in results])
        out[f"sharp_{size}"] = np.array([r[s][3] for r in results], dtype=float)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE.with_suffix(".tmp.npz"), names=np.array(names), files=np.array(files), done=done, **out)
    CACHE.with_suffix(".tmp.npz").replace(CACHE)

# -- stage 2: simulated rosters judged by consentguard.decide ---------------------------------------

from consentguard.decide import BLOCK, ERROR, PASS, REVIEW, FaceEvidence, RosterContext, judge_face, recognised_as  # noqa: E402
from consentguard.match.index import Student  # noqa: E402
from consentguard.policy import Policy  # noqa: E402


def load():
    d = np.load(CACHE)
    return {k: d[k] for k in d.files}


def halves(data, lfw: Path):
    """(tuning people, measuring people): make_eval_roster.held_out_people is the measuring half."""
    from make_eval_roster import held_out_people

    names, done = data["names"], data["done"]
    complete = set(names) - set(names[~done])  # an interrupted encoding run: the people it finished
    measure = [p.name for p in held_out_people(lfw) if p.name in complete]
    tune = sorted(complete - set(measure))
    return tune, measure


class Roster:
    """One simulated school: a share of the people are strangers (no portrait, not on the roster),
    a share of the rest photo-restricted; each roster student's first ``portraits`` photos are
    their portraits; probes are judged against the index (``all`` or ``restricted``)."""

    def __init__(self, data, people, rng, share, strangers, portraits, index):
        names = data["names"]
        people = list(people)
        rng.shuffle(people)
        n_strangers = round(len(people) * strangers)
        self.strangers = set(people[:n_strangers])
        roster = people[n_strangers:]
        self.restricted = set(roster[: round(len(roster) * share)])
        self.number = {p: str(100000 + i) for i, p in enumerate(sorted(roster))}
        self.students = {self.number[p]: Student(self.number[p], p, "", p in self.restricted, False) for p in roster}
        self.portraits = portraits
        rows, owners = [], []
        for p in roster:  # index: all | restricted | permitted (no restricted student has a portrait)
            if (index == "restricted") != (p in self.restricted) and index != "all":
                continue
            for row in np.flatnonzero(names == p)[:portraits]:
                if not np.isnan(data["enc_full"][row]).any():
                    rows.append(row)
                    owners.append(self.number[p])
        self.gallery = data["enc_full"][rows]
        self.owners = np.array(owners)
        self.unique, self.inverse = np.unique(self.owners, return_inverse=True)
        indexed = {self.number[p] for p in self.restricted} & set(owners)
        self.context = RosterContext(self.students, len(self.restricted), len(indexed), 1)

    def kind(self, person: str) -> str:
        return "stranger" if person in self.strangers else "restricted" if person in self.restricted else "permitted"

    def nearest(self, encoding) -> list[tuple[str, float]]:
        """What FaceIndex.nearest gives, cut to what the rules read: the two nearest students, and the
        nearest restricted and permitted one."""
        d = np.linalg.norm(self.gallery - encoding, axis=1)
        best = np.full(len(self.unique), np.inf)
        np.minimum.at(best, self.inverse, d)
        order = np.argsort(best)
        keep = list(order[:2])
        flags = np.array([self.students[n].photo_restricted for n in self.unique])
        for want in (True, False):
            hit = next((i for i in order if flags[i] == want), None)
            if hit is not None and hit not in keep:
                keep.append(hit)
        keep.sort(key=lambda i: best[i])
        return [(str(self.unique[i]), float(best[i])) for i in keep]


def probes(data, roster: Roster, people, size: str, first: int, only=None):
    """(kind, FaceEvidence or None when not found) for each probe photo of ``people`` at ``size``."""
    names = data["names"]
    out = []
    for p in people:
        rows = np.flatnonzero(names == p)
        for i, row in enumerate(rows):
            if i < first or (only is not None and i not in only):
                continue
            width = int(data[f"width_{size}"][row])
            if width == 0:
                out.append((roster.kind(p), None))
                continue
            enc = data[f"enc_{size}"][row]
            nearest = None if np.isnan(enc).any() else roster.nearest(enc)
            sharp = float(data[f"sharp_{size}"][row])
            out.append((roster.kind(p), FaceEvidence((0, 0, width, width), nearest, sharp,
                                                     bool(data[f"confirmed_{size}"][row]))))
    return out


def simulate(data, people, draws, share, strangers, portraits, index, size="full", first=None, only=None, seed=2):
    """[(roster, probes)] for ``draws`` simulated rosters; probes start after the portraits."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        roster = Roster(data, people, rng, share, strangers, portraits, index)
        out.append((roster, probes(data, roster, people, size, portraits if first is None else first, only)))
    return out


def rates(sims, policy: Policy) -> dict:
    """Shares judged by consentguard.decide.judge_face: restricted faces flagged (block or review) and
    blocked; permitted students' and strangers' faces blocked, sent to review and passed."""
    counts = {k: {PASS: 0, REVIEW: 0, BLOCK: 0, ERROR: 0, "missed": 0}
              for k in ("restricted", "permitted", "stranger")}
    for roster, faces in sims:
        for kind, face in faces:
            if face is None:
                counts[kind]["missed"] += 1  # not found: the product sees no face, the photo passes
                continue
            counts[kind][judge_face(face, roster.context, policy).verdict] += 1
    out = {}
    for kind, c in counts.items():
        total = max(1, sum(c.values()))
        out[kind] = {"n": sum(c.values()), "flagged": (c[BLOCK] + c[REVIEW] + c[ERROR]) / total,
                     "block": c[BLOCK] / total, "review": (c[REVIEW] + c[ERROR]) / total,
                     "pass": (c[PASS] + c["missed"]) / total, "found": 1 - c["missed"] / total}
    return out


GRID = np.round(np.arange(0.40, 0.76, 0.01), 2)


def tune_bands(sims, margin: float, recall: float = 0.99, false_block: float = 0.005):
    """review_distance: the smallest flagging ``recall`` of restricted faces; block_distance: the
    largest (up to review) blocking at most ``false_block`` of permitted faces and of strangers (faces
    no portrait can clear: visitors, staff)."""
    def at(block, review):
        return rates(sims, Policy(block_distance=block, review_distance=review, margin=margin))

    review = next((t for t in GRID if at(min(t, 0.5), t)["restricted"]["flagged"] >= recall), GRID[-1])
    block = max((t for t in GRID if t <= review and max(at(t, review)[k]["block"] for k in ("permitted", "stranger"))
                 <= false_block),
                default=GRID[0])
    return float(block), float(review)


def fmt(r: dict) -> str:
    return (f"{r['restricted']['flagged']:8.1%}{r['restricted']['block']:8.1%}{r['permitted']['block']:8.1%}"
            f"{r['permitted']['review']:8.1%}{r['permitted']['pass']:8.1%}{r['stranger']['block']:8.1%}"
            f"{r['stranger']['review']:8.1%}")


HEAD = f"{'flagged':>8}{'blocked':>8}{'F.block':>8}{'review':>8}{'pass':>8}{'S.block':>8}{'S.rev':>8}"


def tune(data, tune_half, measure_half, args) -> None:
    """Tune block/review/margin (everyone indexed, 1 portrait) on the tuning half; report both halves."""
    print(f"tuning on {len(tune_half)} people, measuring on {len(measure_half)}; {args.restricted:.0%} of each "
          f"roster photo-restricted, {args.strangers:.0%} of the people strangers; {args.draws} rosters")
    print("columns: restricted flagged, blocked; permitted faces blocked, to review, passed; strangers blocked, "
          "to review")
    for index in ("all", "restricted"):
        sims = simulate(data, tune_half, args.draws, args.restricted, args.strangers, 1, index, seed=1)
        held = simulate(data, measure_half, args.draws, args.restricted, args.strangers, 1, index, seed=2)
        for margin in ((0.03, 0.05, 0.08, 0.10) if index == "all" else (0.05,)):
            block, review = tune_bands(sims, margin)
            policy = Policy(block_distance=block, review_distance=review, margin=margin)
            r = rates(held, policy)
            print(f"index {index:<10} margin {margin:.2f} block <= {block:.2f} review <= {review:.2f}  tune: "
                  f"{fmt(rates(sims, policy))}\n{'':>58}held out: {fmt(r)}")
    print(HEAD.rjust(58 + 10 + len(HEAD)))


def candidates(data, measure_half, args) -> None:
    """Held-out figures at given thresholds, both index policies, 1 and 2 portraits (same probes:
    each person's third photo on)."""
    print(f"held out ({len(measure_half)} people), probes: photos 3+ of each person; {HEAD}")
    for block, review, margin in args.at:
        for index in ("all", "restricted"):
            for portraits in (1, 2):
                sims = simulate(data, measure_half, args.draws, args.restricted, args.strangers, portraits, index,
                                first=2)
                r = rates(sims, Policy(block_distance=block, review_distance=review, margin=margin))
                print(f"block {block:.2f} review {review:.2f} margin {margin:.2f} index {index:<10} "
                      f"{portraits} portrait(s): {fmt(r)}")


def recognise(data, tune_half, measure_half, args) -> None:
    """recognise_distance/margin: permitted faces recognised (they pass while a restricted student has
    no portrait) against restricted faces taken for a permitted student when their portrait is missing."""
    print("recognise_distance / margin: permitted recognised, unprotected restricted taken for someone else")
    for half, label in ((tune_half, "tune"), (measure_half, "held out")):
        # every restricted student without a portrait: a face of theirs recognised as someone is a miss
        sims = simulate(data, half, args.draws, args.restricted, args.strangers, 1, "permitted", seed=3)
        for within in (0.40, 0.42, 0.45, 0.48, 0.50):
            for margin in (0.05, 0.08, 0.10, 0.12):
                policy = Policy(recognise_distance=within, recognise_margin=margin)
                seen = {"permitted": [0, 0], "restricted": [0, 0]}
                for roster, faces in sims:
                    for kind, face in faces:
                        if face is not None and face.nearest and kind in seen:
                            seen[kind][0] += 1
                            seen[kind][1] += recognised_as(face, roster.context, policy) is not None
                ok, wrong = (seen[k][1] / max(1, seen[k][0]) for k in ("permitted", "restricted"))
                print(f"{label:<9} within {within:.2f} margin {margin:.2f}: permitted recognised {ok:6.1%}  "
                      f"unprotected restricted taken for someone else {wrong:6.2%}")


def band_policy(base: Policy, floor: int, within: float, margin: float, review: float) -> Policy:
    return base.with_(small_face_floor=floor, small_recognise_distance=within, small_recognise_margin=margin,
                      small_review_distance=review)


BAND_GRID = [(w, m, r) for w in (0.40, 0.45, 0.48) for m in (0.08, 0.10, 0.12)
             for r in (0.50, 0.55, 0.58, 0.60, 0.63, 0.65)]


def size_sims(data, people, args, seed, index="all"):
    """Per face width: simulated rosters (same seed: same rosters) with each person's 2nd and 3rd photo as probes."""
    return {size: simulate(data, people, args.draws, args.restricted, args.strangers, 1, index, size,
                           only=set(SHRUNK), seed=seed) for size in ("full",) + WIDTHS}


def sizes(data, tune_half, measure_half, base: Policy, args) -> None:
    """The small-face band: tuned on the tuning half (the floor: the smallest width from which every
    width keeps recall >= 99%; thresholds: the most permitted faces passed), then per-width figures
    on the measuring half, with the band and without it (faces under min_face_px never pass)."""
    small = [w for w in WIDTHS if w < base.min_face_px]
    given = (args.floor, args.within, args.band_margin, args.band_review)
    best = None if None in given else ((0, 0), *given)
    tune_sims = size_sims(data, tune_half, args, 1) if best is None else {}
    for within, margin, review in BAND_GRID if best is None else []:
        policy = band_policy(base, WIDTHS[0], within, margin, review)
        r = {w: rates(tune_sims[w], policy) for w in small}
        ok = [w for w in small if r[w]["restricted"]["flagged"] >= 0.99]
        floor = next((w for w in small if all(v in ok for v in small if v >= w)), None)
        if floor is None:
            continue
        gain = np.mean([r[w]["permitted"]["pass"] for w in small if w >= floor])
        key = (-floor, gain)  # lowest floor first, then most permitted faces passed
        if best is None or key > best[0]:
            best = (key, floor, within, margin, review)
        print(f"  band within {within:.2f} margin {margin:.2f} review {review:.2f}: recall "
              + " ".join(f"{w}:{r[w]['restricted']['flagged']:.1%}" for w in small)
              + "  pass " + " ".join(f"{w}:{r[w]['permitted']['pass']:.0%}" for w in small), file=sys.stderr)
    _, floor, within, margin, review = best
    if None in given:
        print(f"tuned on {len(tune_half)} people: floor {floor} px, small_recognise_distance {within:.2f}, "
              f"small_recognise_margin {margin:.2f}, small_review_distance {review:.2f}")
    chosen = band_policy(base, args.floor or floor, args.within or within, args.band_margin or margin,
                         args.band_review or review)
    off = band_policy(base, base.min_face_px, within, margin, review)
    held = size_sims(data, measure_half, args, 2)
    print(f"held out ({len(measure_half)} people), block <= {base.block_distance:.2f}, review <= "
          f"{base.review_distance:.2f}, margin {base.margin:.2f}; band: floor {chosen.small_face_floor} px, "
          f"within {chosen.small_recognise_distance:.2f}, margin {chosen.small_recognise_margin:.2f}, no restricted "
          f"within {chosen.small_review_distance:.2f}")
    print("| face width | found | restricted flagged | restricted blocked | permitted falsely blocked "
          "| permitted passed (band) | permitted passed (no band) | strangers falsely blocked |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in WIDTHS + ("full",):
        r, r0 = rates(held[size], chosen), rates(held[size], off)
        label = f"{size} px" if size != "full" else "100+ px (LFW as is)"
        print(f"| {label} | {r['restricted']['found']:.1%} | {r['restricted']['flagged']:.1%} | "
              f"{r['restricted']['block']:.1%} | {r['permitted']['block']:.1%} | {r['permitted']['pass']:.1%} | "
              f"{r0['permitted']['pass']:.1%} | {r['stranger']['block']:.1%} |")
    distributions(data, measure_half)


def distributions(data, people) -> None:
    """Genuine (probe to own portrait) and impostor (probe to the nearest other person's portrait,
    among the half) distances per face width."""
    names = data["names"]
    rows = {p: np.flatnonzero(names == p) for p in people}
    portraits = np.array([data["enc_full"][rows[p][0]] for p in people])
    print("| face width | genuine median | genuine 95th pct | genuine 99th pct | nearest impostor 1st pct "
          "| nearest impostor 5th pct | nearest impostor median |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for size in WIDTHS + ("full",):
        genuine, impostor = [], []
        for k, p in enumerate(people):
            for i in SHRUNK:
                if i >= len(rows[p]):
                    continue
                enc = data[f"enc_{size}"][rows[p][i]]
                if np.isnan(enc).any() or np.isnan(portraits[k]).any():
                    continue
                d = np.linalg.norm(portraits - enc, axis=1)
                genuine.append(d[k])
                impostor.append(np.nanmin(np.delete(d, k)))
        g, im = np.array(genuine), np.array(impostor)
        label = f"{size} px" if size != "full" else "100+ px"
        print(f"| {label} | {np.median(g):.2f} | {np.percentile(g, 95):.2f} | {np.percentile(g, 99):.2f} | "
              f"{np.percentile(im, 1):.2f} | {np.percentile(im, 5):.2f} | {np.median(im):.2f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encode", action="store_true", help="encode again (about 20 minutes of two cores)")
    ap.add_argument("--lfw", type=Path, default=LFW)
    ap.add_argument("--restricted", type=float, default=0.25, help="share of each roster photo-restricted")
    ap.add_argument("--strangers", type=float, default=0.2, help="share of the people not on the roster")
    ap.add_argument("--draws", type=int, default=10, help="random rosters averaged")
    ap.add_argument("--tune", action="store_true", help="tune block/review/margin, both index policies")
    ap.add_argument("--at", type=lambda s: tuple(float(x) for x in s.split(",")), nargs="*",
                    help="held-out figures at BLOCK,REVIEW,MARGIN (both index policies, 1 and 2 portraits)")
    ap.add_argument("--recognise", action="store_true", help="recognise_distance / recognise_margin")
    ap.add_argument("--sizes", action="store_true", help="per face width: the small-face band")
    ap.add_argument("--floor", type=int), ap.add_argument("--within", type=float)
    ap.add_argument("--band-margin", type=float), ap.add_argument("--band-review", type=float)
    args = ap.parse_args()
    if args.encode or not CACHE.is_file():
        encode_all(args.lfw)
    data = load()
    tune_half, measure_half = halves(data, args.lfw)
    if args.tune:
        tune(data, tune_half, measure_half, args)
    if args.at:
        candidates(data, measure_half, args)
    if args.recognise:
        recognise(data, tune_half, measure_half, args)
    if args.sizes:
        sizes(data, tune_half, measure_half, Policy(), args)


if __name__ == "__main__":
    main()
