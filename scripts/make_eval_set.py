#!/usr/bin/env python3
"""Build the evaluation set of issue #12 from held-out LFW people, for scripts/evaluate.py.

The people are the half calibrate.py measures on (make_eval_roster.held_out_people: the
thresholds are never tuned on them); a share of them is photo-restricted. Each person's
first photo is their SIS portrait (people with 5 or more photos also get their second as
an earlier year's portrait, ``<number>_2025.jpg``); every other photo is a probe. From the
probes the script builds three sets, each with a manifest of every face it shows:

* ``single/``: the probes themselves, one face each (file names carry no names);
* ``groups/``: "12 MP group photos", 4000x3000 JPEGs (quality 88) with 6-20 people, none of
  them restricted, faces pasted from their probes (60-300 px wide, a few 40-60 px) on a
  textured background: gradients, a scene of shapes and grain, never a flat colour;
* ``event/``: one event's folder, 48 photos of 16 recurring people (3 restricted): close-ups
  (1-3 people, faces 150-400 px) and wide shots (8-16 people, faces 40-90 px, some blurred).
  Every restricted person is in at least 4 photos and clearly visible in at least one close-up.

Writes OUT/export.csv (PowerSchool layout), OUT/portraits/, OUT/<set>/*.jpg and
OUT/<set>.csv (``photo,student_number,left,top,right,bottom``, photo relative to OUT/<set>).
Everything is drawn from seeded generators: the same arguments give the same files.

With ``--portrait-crop`` the portraits are framed like school portraits (head and shoulders,
150 x 190 of the 250 x 250 crop): LFW's news photos often show a neighbour at the edge, and sync
refuses such a portrait ("two faces"); a restricted student without a usable portrait sends every
unrecognised face to review, which hides what matching alone does.

Usage:
  python scripts/make_eval_set.py OUT [--people 228] [--restricted 0.25] [--groups 20]
      [--event-photos 48] [--event-people 16] [--event-restricted 3] [--size 4000x3000] [--portrait-crop]
"""

from __future__ import annotations

import csv
import random
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_eval_roster import FACE_BOX, LFW, held_out_people, roster_arguments  # noqa: E402

SEED = 2026
#: LFW's crops are 250 px; the face (FACE_BOX) is 130 px of it.
CROP, FACE = 250, FACE_BOX[2] - FACE_BOX[0]
QUALITY = 88
#: ``--portrait-crop``: a school portrait's head-and-shoulders framing (150 x 190) of an LFW crop, which
#: drops the neighbours news photos show at the edges (the portraits sync refuses as "two faces").
PORTRAIT_CROP = (50, 40, 200, 230)


@dataclass
class Person:
    number: str
    folder: Path
    restricted: bool
    portraits: list[Path] = field(default_factory=list)
    probes: list[Path] = field(default_factory=list)


@dataclass
class Face:
    """One face to paste: whose, from which probe, how wide (px), blurred by how much."""
    person: Person
    probe: Path
    width: int
    blur: float = 0.0
    mirror: bool = False


def people(lfw: Path, count: int, share: float) -> list[Person]:
    """The held-out people, numbered, restricted by the same seeded draw as make_eval_roster.py."""
    chosen = held_out_people(lfw)[:count]
    restricted = set(random.Random(7).sample(range(len(chosen)), round(len(chosen) * share)))
    out = []
    for i, folder in enumerate(chosen):
        photos = sorted(folder.glob("*.jpg"))
        n_portraits = 2 if len(photos) >= 5 else 1
        out.append(Person(str(700000 + i), folder, i in restricted, photos[:n_portraits], photos[n_portraits:]))
    return out


def write_roster(out: Path, everyone: list[Person], crop: bool = False) -> None:
    """The SIS export and the portraits folder (the second portrait named as an earlier year's),
    each portrait as LFW has it or, with ``crop``, framed like a school portrait."""
    (out / "portraits").mkdir(parents=True, exist_ok=True)
    with open(out / "export.csv", "w", newline="") as f:
        export = csv.writer(f)
        export.writerow(["Student_Number", "First_Name", "Last_Name", "Media_Opt_Out", "Photo_Opt_Out"])
        for p in everyone:
            first, _, last = p.folder.name.partition("_")
            export.writerow([p.number, first, last.replace("_", " ") or first, "", "Y" if p.restricted else ""])
            for portrait, name in zip(p.portraits, (f"{p.number}.jpg", f"{p.number}_2025.jpg")):
                if crop:
                    Image.open(portrait).crop(PORTRAIT_CROP).save(out / "portraits" / name, quality=95)
                else:
                    shutil.copy(portrait, out / "portraits" / name)


def write_manifest(path: Path, rows: list[tuple]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["photo", "student_number", "left", "top", "right", "bottom"])
        w.writerows(rows)


def single_set(out: Path, everyone: list[Person]) -> int:
    """Every probe as its own photo, under a neutral name (an LFW file name is the person's name,
    which the name checks would find: this set measures faces)."""
    folder = out / "single"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for p in everyone:
        for probe in p.probes:
            name = f"s{len(rows) + 1:04d}.jpg"
            shutil.copy(probe, folder / name)
            rows.append((name, p.number, *FACE_BOX))
    write_manifest(out / "single.csv", rows)
    return len(rows)


# -- drawing -------------------------------------------------------------------------------

def background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A textured scene: a two-colour gradient, soft colour clouds, shapes (walls, benches,
    windows) and grain. Detectors see structure everywhere, as in a real photo."""
    w, h = size
    top, bottom = rng.integers(40, 220, 3), rng.integers(40, 220, 3)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = (top * (1 - t) + bottom * t) * np.ones((1, w, 1), np.float32)
    clouds = Image.fromarray(rng.integers(0, 255, (9, 12, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
    img += (np.asarray(clouds, np.float32) - 128) * 0.35
    scene = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(scene)
    for _ in range(int(rng.integers(25, 45))):
        x, y = rng.integers(-w // 8, w), rng.integers(-h // 8, h)
        dx, dy = rng.integers(w // 30, w // 3), rng.integers(h // 30, h // 3)
        colour = tuple(int(c) for c in rng.integers(30, 230, 3))
        shape = (draw.rectangle if rng.random() < 0.6 else draw.ellipse)
        shape((int(x), int(y), int(x + dx), int(y + dy)), fill=colour)
    scene = scene.filter(ImageFilter.GaussianBlur(2))
    grain = rng.normal(0, 7, (512, 512, 1)).astype(np.float32)
    tiled = np.tile(grain, (h // 512 + 1, w // 512 + 1, 3))[:h, :w]
    return Image.fromarray(np.clip(np.asarray(scene, np.float32) + tiled, 0, 255).astype(np.uint8))


_MASKS: dict[int, Image.Image] = {}


def head_mask(side: int) -> Image.Image:
    """A feathered oval around the head of an LFW crop (keeps the face, drops the crop's edges
    and the neighbours LFW photos often show there)."""
    if side not in _MASKS:
        m = Image.new("L", (side, side), 0)
        s = side / CROP
        ImageDraw.Draw(m).ellipse((40 * s, 22 * s, 210 * s, 238 * s), fill=255)
        _MASKS[side] = m.filter(ImageFilter.GaussianBlur(max(1.0, 6 * s)))
    return _MASKS[side]


def render(face: Face) -> tuple[Image.Image, Image.Image]:
    """The face's crop scaled so the face is ``face.width`` px wide, and its paste mask."""
    side = max(8, round(CROP * face.width / FACE))
    crop = Image.open(face.probe).convert("RGB")
    if face.mirror:
        crop = ImageOps.mirror(crop)
    crop = crop.resize((side, side), Image.LANCZOS)
    if face.blur:
        crop = crop.filter(ImageFilter.GaussianBlur(face.blur))
    return crop, head_mask(side)


def compose(rng: np.random.Generator, size: tuple[int, int], faces: list[Face], name: str) -> tuple[Image.Image, list[tuple]]:
    """Paste the faces (largest first) where their crops do not overlap; manifest rows with the
    face boxes actually drawn. A face that finds no room is drawn 10% smaller and tried again."""
    canvas = background(rng, size)
    taken: list[tuple[int, int, int, int]] = []
    rows = []
    for face in sorted(faces, key=lambda f: -f.width):
        while True:
            side = round(CROP * face.width / FACE)
            spot = _free_spot(rng, size, side, taken)
            if spot or face.width <= 20:
                break
            face.width = int(face.width * 0.9)
        if spot is None:
            continue
        x, y = spot
        crop, mask = render(face)
        canvas.paste(crop, (x, y), mask)
        taken.append((x, y, x + crop.width, y + crop.height))
        s = crop.width / CROP
        rows.append((name, face.person.number, x + round(FACE_BOX[0] * s), y + round(FACE_BOX[1] * s),
                     x + round(FACE_BOX[2] * s), y + round(FACE_BOX[3] * s)))
    return canvas, rows


def _free_spot(rng, size, side, taken, tries=300):
    w, h = size
    # the oval keeps ~70% of the crop: crops may overlap by their transparent corners
    pad = int(side * 0.12)
    if side >= min(w, h):
        return None
    for _ in range(tries):
        x, y = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
        box = (x + pad, y + pad, x + side - pad, y + side - pad)
        if all(box[2] <= t[0] or box[0] >= t[2] or box[3] <= t[1] or box[1] >= t[3] for t in taken):
            return x, y
    return None


def save(image: Image.Image, path: Path) -> None:
    image.save(path, "JPEG", quality=QUALITY)


# -- the sets ------------------------------------------------------------------------------

def group_width(rng: np.random.Generator) -> int:
    """Faces 60-300 px wide (log-uniform: more small faces than big ones), one in eight 40-60 px."""
    if rng.random() < 0.125:
        return int(rng.integers(40, 60))
    return int(np.exp(rng.uniform(np.log(60), np.log(300))))


def group_set(out: Path, everyone: list[Person], count: int, size: tuple[int, int]) -> None:
    """``count`` group photos of 6-20 permitted people each."""
    rng = np.random.default_rng(SEED + 1)
    folder = out / "groups"
    folder.mkdir(parents=True, exist_ok=True)
    permitted = [p for p in everyone if not p.restricted and p.probes]
    rows = []
    for g in range(count):
        n = int(rng.integers(6, 21))
        chosen = rng.choice(len(permitted), size=min(n, len(permitted)), replace=False)
        faces = [Face(permitted[i], permitted[i].probes[int(rng.integers(len(permitted[i].probes)))],
                      group_width(rng), mirror=bool(rng.random() < 0.5)) for i in chosen]
        name = f"g{g + 1:02d}.jpg"
        image, drawn = compose(rng, size, faces, name)
        save(image, folder / name)
        rows += drawn
    write_manifest(out / "groups.csv", rows)


def event_set(out: Path, everyone: list[Person], photos: int, n_people: int, n_restricted: int,
              size: tuple[int, int]) -> None:
    """One event: ``n_people`` recurring people (``n_restricted`` restricted) over ``photos`` photos,
    close-ups (3 in 8) and wide shots. The first close-ups feature each restricted person, sharp and
    large; every restricted person is in at least 3 wide shots as well. A person's close-ups and wide
    shots come from different photos of them (as at a real event: another moment, another pose)."""
    rng = np.random.default_rng(SEED + 2)
    folder = out / "event"
    folder.mkdir(parents=True, exist_ok=True)
    usable = [p for p in everyone if len(p.probes) >= 2] or [p for p in everyone if p.probes]
    restricted = [p for p in usable if p.restricted]
    permitted = [p for p in usable if not p.restricted]
    if len(restricted) < n_restricted or len(permitted) < n_people - n_restricted:
        raise SystemExit(f"not enough people with probes for an event of {n_people} ({n_restricted} restricted)")
    cast = ([restricted[i] for i in rng.choice(len(restricted), n_restricted, replace=False)]
            + [permitted[i] for i in rng.choice(len(permitted), n_people - n_restricted, replace=False)])
    ours, theirs = cast[:n_restricted], cast[n_restricted:]
    closeups = max(n_restricted, round(photos * 3 / 8))
    wide = photos - closeups

    def face(p: Person, width: int, blur: float = 0.0) -> Face:
        """Close-ups (150 px and up) use the first half of the person's probes, wide shots the
        other half: a small face is never the same photo as a close-up, scaled down."""
        half = (len(p.probes) + 1) // 2
        probes = (p.probes[:half] if width >= 150 else p.probes[half:]) or p.probes
        return Face(p, probes[int(rng.integers(len(probes)))], width, blur, bool(rng.random() < 0.5))

    shots: list[list[Face]] = []
    for c in range(closeups):
        if c < n_restricted:  # the restricted person's clear close-up, maybe with a friend
            who = [ours[c]] + [theirs[i] for i in rng.choice(len(theirs), int(rng.integers(0, 3)), replace=False)]
            shots.append([face(who[0], int(rng.integers(250, 401)))] +
                         [face(p, int(rng.integers(150, 401))) for p in who[1:]])
        else:
            who = [cast[i] for i in rng.choice(len(cast), int(rng.integers(1, 4)), replace=False)]
            shots.append([face(p, int(rng.integers(150, 401))) for p in who])
    in_wide = {p.number: 0 for p in ours}
    for w in range(wide):
        n = int(rng.integers(min(8, n_people), min(16, n_people) + 1))
        left = wide - w
        who = [p for p in ours if rng.random() < 0.3 or 3 - in_wide[p.number] >= left]
        who += [theirs[i] for i in rng.choice(len(theirs), max(0, min(n - len(who), len(theirs))), replace=False)]
        for p in who:
            if p.restricted:
                in_wide[p.number] += 1
        shots.append([face(p, int(rng.integers(40, 91)), float(rng.uniform(1.0, 2.5)) if rng.random() < 0.3 else 0.0)
                      for p in who])
    order = rng.permutation(len(shots))
    rows = []
    for k, i in enumerate(order):
        name = f"e{k + 1:02d}.jpg"
        image, drawn = compose(rng, size, shots[i], name)
        save(image, folder / name)
        rows += drawn
    write_manifest(out / "event.csv", rows)


def build(out: Path, lfw: Path = LFW, n_people: int = 228, share: float = 0.25, groups: int = 20,
          event_photos: int = 48, event_people: int = 16, event_restricted: int = 3,
          size: tuple[int, int] = (4000, 3000), portrait_crop: bool = False) -> str:
    """Write the whole set into ``out``; a one-line summary."""
    everyone = people(lfw, n_people, share)
    write_roster(out, everyone, portrait_crop)
    singles = single_set(out, everyone)
    group_set(out, everyone, groups, size)
    event_set(out, everyone, event_photos, event_people, event_restricted, size)
    return (f"{out}: {len(everyone)} people ({sum(p.restricted for p in everyone)} photo-restricted, "
            f"{sum(len(p.portraits) for p in everyone)} portraits{', cropped' if portrait_crop else ''}), "
            f"{singles} single-face photos, "
            f"{groups} group photos, an event of {event_photos} photos")


def parse_size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def main() -> None:
    ap = roster_arguments(__doc__)
    ap.add_argument("--groups", type=int, default=20)
    ap.add_argument("--event-photos", type=int, default=48)
    ap.add_argument("--event-people", type=int, default=16)
    ap.add_argument("--event-restricted", type=int, default=3)
    ap.add_argument("--size", type=parse_size, default=(4000, 3000), help="group and event photos (default 4000x3000)")
    ap.add_argument("--portrait-crop", action="store_true",
                    help="frame portraits like school portraits (drops the neighbours LFW photos show)")
    a = ap.parse_args()
    print(build(a.out, a.lfw, a.people, a.restricted, a.groups, a.event_photos, a.event_people,
                a.event_restricted, a.size, a.portrait_crop))


if __name__ == "__main__":
    main()
