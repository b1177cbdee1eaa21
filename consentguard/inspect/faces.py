"""Image inspection, step 2: find faces and turn each into a 128-number encoding.

Finding faces takes two detectors, each doing what it is good at:

1. **CenterFace** (a small CNN, run with OpenCV's DNN module) looks at a copy of
   the photo shrunk so that the smallest face the mode promises is about 16 px
   there. It is fast (0.3 s for a 12 MP photo in the default mode) and also
   finds faces dlib's HOG detector misses: turned, partly covered, blurred.
2. **dlib's HOG detector** then re-examines each proposal on a full-resolution
   crop enlarged so the face is about 110 px wide. A face it confirms gets
   dlib's own box, the geometry the 5-point landmark model and the encoder
   (and our calibration) expect. A face it cannot confirm is kept, with a box
   derived from CenterFace's, and flagged ``confirmed=False``: it is encoded
   and matched all the same, but it can never pass (see decide.quality_problem).

Each face is then encoded from the full-resolution photo (see ``encode_face``).

A wide shot is searched twice (issue #12). The default mode promises faces from
64 px in a large photo, and a wide shot's faces run below that: in scripts/evaluate's
event folder the default search found 237 of 355 faces of 40-90 px, and missed
restricted students in 2 photos. So when a large photo's first search shows signs of
small faces (``wide_shot``: a face under 1.5 times the promise, or many faces), it is
searched again upright as the thorough mode does, and only faces not already found are
confirmed and added (``add_smaller``), so none is encoded twice. Close-ups (faces of
100 px and more) are searched once; a wide shot costs about twice the time.

Each face is looked for in four positions. CenterFace and dlib only know upright
faces, but a child hanging from the monkey bars is upside down and one lying in
the grass is sideways (issue #10: such photos passed). So CenterFace also looks
at the shrunk copy turned by 90°, 180° and 270° (``np.rot90``), and a face found
that way is confirmed and encoded on a crop turned upright (``Face.rotation``
says how it lies in the photo). Where a face is found in two positions, dlib's
HOG score says which is right (``HOG_SURE``, ``HOG_MARGIN``): it confirms some
upside-down faces upright too, only less surely. A turned face dlib cannot
confirm is kept only from a high CenterFace score (``ROTATED_SCORE``): turned
copies also show upright faces sideways. Measured by scripts/bench_rotate.py:
on 99 ordinary upright photos (1,120 faces) the turned passes add or change no
face; 60 of 60 LFW faces are found at each of 90°, 180° and 270°.

Cost: in the default mode the turned passes look at a 400x300 copy (see
``rotated_scale``): +13-23% CPU for the face stage of a 12 MP photo of a few
people, +1-3% for a crowd. In a 12 MP photo they find turned faces from about
160 px wide (26 of 27 from 160 px, 11 of 18 at 96-128 px), smaller ones in
smaller photos. The thorough mode turns the same copy as its upright pass and
finds turned faces as small as upright ones (70 of 72 at 48-300 px) at about
three times the cost of its upright search for a photo of a few people.
The measurements behind these choices are in scripts/bench_detect.py,
scripts/bench_rotate.py and the README ("Finding faces").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from consentguard.models import face_models
from consentguard.policy import DEFAULTS

#: Detection modes: the smallest face (box width in photo pixels) each promises to find, by default
#: (settings detect_face_px and thorough_face_px; a Policy's ``face_promises`` is passed as ``promises``).
MODES = {"default": DEFAULTS["detect_face_px"], "thorough": DEFAULTS["thorough_face_px"]}

#: Changes whenever detection changes, so cached scan results are not reused.
DETECTOR_VERSION = "centerface+hog1+rot1+wide1"

#: CenterFace finds faces down to about 14 px wide at its input: the photo is
#: shrunk so the smallest promised face is this wide there.
PROPOSAL_FACE_PX = 16
#: Photos up to this size are searched at full size (cheap, and small photos
#: tend to have small faces): CenterFace then finds faces of about 14 px.
SMALL_PHOTO_PIXELS = 2_500_000
#: Larger detector inputs are searched in overlapping tiles (memory stays bounded).
MAX_PROPOSAL_PIXELS = 4_000_000
TILE, TILE_OVERLAP = 2048, 256
#: A large photo searched in the default mode is searched again as the thorough mode
#: does (upright) when it shows signs of small faces: a face narrower than this many
#: times the default mode's promise, or at least WIDE_SHOT_FACES faces. A wide shot has
#: faces of many sizes, and the ones under the promise were missed (scripts/evaluate's
#: event folder: 8 faces of restricted students, 40-90 px, in 2 photos). Measured by
#: scripts/bench_adaptive.py on that folder: the first search's narrowest face is 30-57 px
#: in each of its 30 wide shots (faces of 40-90 px) and 100-320 px in its 18 close-ups
#: (150-400 px); a close-up showed up to 6 faces (3 people), wide shots 3-12.
WIDE_SHOT_WIDTH = 1.5
WIDE_SHOT_FACES = 10
#: CenterFace score from which a proposal counts as a face (its scores run 0-1).
PROPOSAL_SCORE = 0.3
#: Proposals are re-examined by dlib's HOG detector at this face width.
CONFIRM_FACE_PX = 110
#: Faces narrower than this are reported but not encoded: their encoding is
#: noise (0.43 from the same face at full size, ../shared/FACES.md) and crowd
#: photos have hundreds of them, at 83 ms each.
MIN_ENCODE_PX = 24
#: Quarter turns (np.rot90's k) searched besides the upright photo.
ROTATIONS = (1, 2, 3)
#: The default mode's turned passes see at least this many pixels (a 400x300 copy):
#: in a 12 MP photo that finds turned faces from about 160 px, in smaller photos smaller ones.
ROTATED_PIXELS = 120_000
#: dlib's HOG score from which a face it confirmed upright is not looked at turned. It
#: confirms some upside-down faces upright, but weakly: 0.0-0.5 for 6 of 60 LFW faces
#: turned 180°, against 0.5-2.6 for the same faces upright and 1.5-2.2 turned back
#: (and 0.1-0.3 for upright faces in groups/ turned upside down).
HOG_SURE = 1.0
#: A turned face takes an upright one's place only if dlib's HOG score for it is this much
#: higher (than 0 where dlib did not confirm the upright one): a weak turned confirmation
#: of an upright face must not cost it its upright encoding.
HOG_MARGIN = 0.5
#: A turned face dlib cannot confirm upright is kept only from this CenterFace score:
#: below it, turned passes fire on upright faces seen sideways and on odd shapes
#: (scripts/bench_rotate.py).
ROTATED_SCORE = 0.8


@dataclass
class Face:
    """One detected face: box in image pixels and (if encoded) its encoding."""

    box: tuple[int, int, int, int]  # left, top, right, bottom
    encoding: np.ndarray | None = field(default=None, repr=False)
    score: float = 0.0
    sharpness: float | None = None
    confirmed: bool = True  # dlib's HOG detector found it too (frontal, identifiable)
    hog_score: float | None = None  # dlib's HOG score where it confirmed the face
    rotation: int = 0  # degrees the face is turned clockwise in the photo: 0, 90, 180 or 270

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def _gray(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma (Pillow's C code); dlib's HOG is about 20% faster on one channel."""
    from PIL import Image
    return np.asarray(Image.fromarray(rgb).convert("L"))


def _resize(array: np.ndarray, scale: float) -> np.ndarray:
    from PIL import Image

    height, width = array.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(array).resize(size, Image.BILINEAR, reducing_gap=None if scale >= 1 else 2.0))


def proposal_scale(width: int, height: int, mode: str = "default", promises: dict[str, int] = MODES) -> float:
    """How much the photo is shrunk for CenterFace (1.0: not at all)."""
    if mode not in MODES:
        raise ValueError(f"unknown detection mode {mode!r}; choose one of {', '.join(MODES)}")
    if width * height <= SMALL_PHOTO_PIXELS:
        return 1.0
    return min(1.0, PROPOSAL_FACE_PX / promises[mode])


def video_scale(promises: dict[str, int] = MODES) -> float:
    """How much a video frame is shrunk for CenterFace, whatever its size: so the thorough mode's
    smallest face (``thorough_face_px``, 32 px) is PROPOSAL_FACE_PX there (1080p at 0.5). A frame of a
    1080p clip is under SMALL_PHOTO_PIXELS, so as a photo it would be searched at full size for faces
    of 14 px: five times the cost, on every sampled frame, for faces far below what can be identified
    (a face under ``small_face_floor`` never passes, and one found is a review; issue #14)."""
    return min(1.0, PROPOSAL_FACE_PX / min(promises.values()))


def rotated_scale(width: int, height: int, mode: str = "default", promises: dict[str, int] = MODES) -> float:
    """How much the photo is shrunk for the turned passes: as for the upright one in
    the thorough mode; in the default mode to about ROTATED_PIXELS (the three passes
    then cost about half the upright CenterFace pass of a 12 MP photo), never finer
    than upright."""
    upright = proposal_scale(width, height, mode, promises)
    if mode == "thorough":
        return upright
    return min(upright, (ROTATED_PIXELS / (width * height)) ** 0.5)


def rotate_box(box, k: int, width: int, height: int) -> tuple[float, float, float, float]:
    """``box`` in a ``width`` x ``height`` image, in the pixels of ``np.rot90(image, k)``."""
    x1, y1, x2, y2 = box[:4]
    for _ in range(k % 4):  # one quarter turn anticlockwise: (x, y) -> (y, width - x)
        x1, y1, x2, y2 = y1, width - x2, y2, width - x1
        width, height = height, width
    return x1, y1, x2, y2


def unrotate_box(box, k: int, width: int, height: int) -> tuple[float, float, float, float]:
    """A box in ``np.rot90(image, k)``'s pixels back in the ``width`` x ``height`` image's."""
    if k % 2:
        width, height = height, width
    return rotate_box(box, -k % 4, width, height)


def _nms(boxes: np.ndarray, overlap: float) -> np.ndarray:
    """Keep the best-scoring of boxes (x1, y1, x2, y2, score) overlapping more than ``overlap`` IoU."""
    order = np.argsort(-boxes[:, 4], kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = w * h
        order = rest[inter / np.maximum(area[i] + area[rest] - inter, 1e-9) <= overlap]
    return boxes[keep]


def _centerface(rgb: np.ndarray) -> np.ndarray:
    """CenterFace on one RGB array: rows of (x1, y1, x2, y2, score) in its pixels."""
    height, width = rgb.shape[:2]
    padded = np.zeros((1, 3, -(-height // 32) * 32, -(-width // 32) * 32), np.float32)
    padded[0, :, :height, :width] = rgb.transpose(2, 0, 1)
    net = face_models().proposer
    net.setInput(padded)
    heat, scale, offset, _ = net.forward(["537", "538", "539", "540"])
    ys, xs = np.nonzero(heat[0, 0] > PROPOSAL_SCORE)
    h = np.exp(scale[0, 0, ys, xs]) * 4
    w = np.exp(scale[0, 1, ys, xs]) * 4
    x1 = (xs + offset[0, 1, ys, xs] + 0.5) * 4 - w / 2
    y1 = (ys + offset[0, 0, ys, xs] + 0.5) * 4 - h / 2
    return np.stack([x1, y1, x1 + w, y1 + h, heat[0, 0, ys, xs]], axis=1).astype(np.float64)


def _tiles(length: int) -> list[int]:
    if length <= TILE:
        return [0]
    step = TILE - TILE_OVERLAP
    return list(range(0, length - TILE, step)) + [length - TILE]


def propose_faces(rgb: np.ndarray, scale: float, small: np.ndarray | None = None) -> np.ndarray:
    """CenterFace proposals on ``rgb`` shrunk by ``scale`` (``small``, if already made), in ``rgb``'s pixels."""
    boxes = _propose(small if small is not None else _shrink(rgb, scale))
    boxes[:, :4] /= scale
    return boxes


def _shrink(rgb: np.ndarray, scale: float, source: np.ndarray | None = None, source_scale: float = 1.0) -> np.ndarray:
    """``rgb`` shrunk by ``scale``; from ``source`` (``rgb`` already shrunk by ``source_scale``) when
    that is at least as large: shrinking a 12 MP photo costs 40 ms, a copy a quarter its size 4 ms."""
    if source is not None and scale <= source_scale:
        return source if scale == source_scale else _resize(source, scale / source_scale)
    return rgb if scale == 1.0 else _resize(rgb, scale)


def propose_rotated(rgb: np.ndarray, scale: float, source: np.ndarray | None = None,
                    source_scale: float = 1.0) -> np.ndarray:
    """CenterFace proposals on copies of ``rgb`` shrunk by ``scale`` and turned by each of
    ROTATIONS: rows of (x1, y1, x2, y2, score, k) in ``rgb``'s pixels, k the quarter turns
    (np.rot90) that make the face upright."""
    small = _shrink(rgb, scale, source, source_scale)
    height, width = small.shape[:2]
    found = []
    for k in ROTATIONS:
        for box in _propose(np.ascontiguousarray(np.rot90(small, k))):
            found.append([c / scale for c in unrotate_box(box, k, width, height)] + [box[4], k])
    return np.array(found, np.float64).reshape(-1, 6)


def _propose(small: np.ndarray) -> np.ndarray:
    """CenterFace proposals in ``small``'s pixels: in one pass, or in tiles if it is large."""
    height, width = small.shape[:2]
    found = []
    if height * width <= MAX_PROPOSAL_PIXELS:
        found.append(_centerface(small))
    else:  # overlapping tiles for small faces, plus one coarse pass for faces larger than the overlap
        for top in _tiles(height):
            for left in _tiles(width):
                boxes = _centerface(small[top:top + TILE, left:left + TILE])
                found.append(boxes + [left, top, left, top, 0])
        coarse = (MAX_PROPOSAL_PIXELS / (height * width)) ** 0.5
        found.append(_centerface(_resize(small, coarse)) / [coarse, coarse, coarse, coarse, 1])
    boxes = np.concatenate(found)
    return _nms(boxes, 0.3) if len(boxes) else boxes


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / max((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter, 1e-9)


def confirm_face(gray: np.ndarray, proposal) -> tuple[tuple[float, float, float, float], float] | None:
    """Run dlib's HOG detector on a crop around a proposal enlarged (or shrunk) so
    the face is about CONFIRM_FACE_PX wide; return its box for that face, or None."""
    x1, y1, x2, y2 = proposal[:4]
    size = max(x2 - x1, 1.0)
    margin = 0.6 * size
    height, width = gray.shape
    left, top = int(max(0, x1 - margin)), int(max(0, y1 - margin))
    right, bottom = int(min(width, x2 + margin)), int(min(height, y2 + margin))
    if right - left < 2 or bottom - top < 2:
        return None
    k = CONFIRM_FACE_PX / size
    crop = _resize(np.ascontiguousarray(gray[top:bottom, left:right]), k)
    rects, scores, _ = face_models().detector.run(crop, 0, 0.0)
    best, best_overlap = None, 0.2
    for r, score in zip(rects, scores):  # the crop may hold a neighbour too: take the box on this face
        box = (left + r.left() / k, top + r.top() / k, left + r.right() / k, top + r.bottom() / k)
        overlap = _iou(box, proposal)
        if overlap > best_overlap:
            best, best_overlap = (box, float(score)), overlap
    return best


def derived_box(proposal) -> tuple[float, float, float, float]:
    """The box dlib's detector would most likely give for a CenterFace box it did
    not confirm (measured on 431 faces both found: a square 1.1x CenterFace's
    width, centred 3% of the width right and 4% of the height lower)."""
    x1, y1, x2, y2 = proposal[:4]
    w, h = x2 - x1, y2 - y1
    cx, cy, half = (x1 + x2) / 2 + 0.03 * w, (y1 + y2) / 2 + 0.04 * h, 0.55 * w
    return cx - half, cy - half, cx + half, cy + half


def detect_faces(rgb: np.ndarray, mode: str = "default", promises: dict[str, int] = MODES,
                 video: bool = False) -> list[Face]:
    """Every face in ``rgb`` down to the mode's smallest promised size (``promises``), upright or
    turned by a quarter, half or three-quarter turn; boxes in ``rgb``'s pixels. ``video``: a video
    frame, searched once at :func:`video_scale` (faces down to the thorough promise) in either mode."""
    height, width = rgb.shape[:2]
    scale = video_scale(promises) if video else proposal_scale(width, height, mode, promises)
    small = _shrink(rgb, scale)  # the upright pass's copy; the turned passes shrink it further
    proposals = propose_faces(rgb, scale, small)
    turned = propose_rotated(rgb, min(scale, rotated_scale(width, height, mode, promises)), small, scale)
    gray = _gray(rgb) if len(proposals) or len(turned) else None
    faces = place_faces(proposals, [confirm_face(gray, p) for p in proposals], width, height)
    turned = [p for p in turned if not any(_surely_upright(f, p) for f in faces)]
    faces = add_rotated(faces, turned, [confirm_rotated(gray, p) for p in turned], width, height)
    if not video and wide_shot(faces, width, height, mode, promises):
        faces = add_smaller(rgb, gray, faces, promises)
    return faces


def wide_shot(faces: list[Face], width: int, height: int, mode: str = "default",
              promises: dict[str, int] = MODES) -> bool:
    """Whether a photo searched in ``mode`` should be searched again as the thorough mode
    does: only where that looks closer (a large photo in the default mode), and only when
    what was found suggests smaller faces than the mode promises (a face narrower than
    WIDE_SHOT_WIDTH times its promise, or WIDE_SHOT_FACES faces or more)."""
    if proposal_scale(width, height, "thorough", promises) <= proposal_scale(width, height, mode, promises):
        return False
    narrow = WIDE_SHOT_WIDTH * promises[mode]
    return len(faces) >= WIDE_SHOT_FACES or any(f.width < narrow for f in faces)


def add_smaller(rgb: np.ndarray, gray: np.ndarray | None, faces: list[Face],
                promises: dict[str, int] = MODES) -> list[Face]:
    """``faces`` plus the faces the thorough mode's upright search finds that none of them
    is: a proposal on a face already found is not confirmed (nor, later, encoded) again."""
    height, width = rgb.shape[:2]
    proposals = propose_faces(rgb, proposal_scale(width, height, "thorough", promises))
    new = [p for p in proposals if not any(_same_face(p, f.box) for f in faces)]
    if not new:
        return faces
    gray = _gray(rgb) if gray is None else gray
    more = place_faces(np.array(new), [confirm_face(gray, p) for p in new], width, height)
    return faces + [f for f in more if not any(_same_face(f.box, g.box) for g in faces)]


def confirm_rotated(gray: np.ndarray, proposal):
    """``confirm_face`` on the photo turned so the proposed face is upright; box in ``gray``'s pixels."""
    height, width = gray.shape
    k = int(proposal[5])
    found = confirm_face(np.rot90(gray, k), rotate_box(proposal, k, width, height) + (proposal[4],))
    return None if found is None else (unrotate_box(found[0], k, width, height), found[1])


def _surely_upright(face: Face, proposal) -> bool:
    """A turned proposal on an upright face dlib confirmed with at least HOG_SURE: an upright
    face seen sideways, not worth a look. (CenterFace's scores cannot settle it: an upright
    face often scores 0.9 upside down too, and a large face scores higher on the coarser
    copy the default mode's turned passes see.)"""
    return (face.confirmed and face.rotation == 0 and (face.hog_score or 0.0) >= HOG_SURE
            and _same_face(proposal, face.box))


def _same_face(box, other) -> bool:
    """Boxes of one face from different passes (their shapes differ: the centre of one lies in the other)."""
    def centre_in(a, b):
        cx, cy = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
        return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]
    return centre_in(box, other) or centre_in(other, box)


def add_rotated(faces: list[Face], proposals, confirmations, width: int, height: int) -> list[Face]:
    """Add the turned faces to the upright ones. One face is kept once: confirmed turned
    proposals first, then by score. A turned face dlib confirmed takes the place of an
    upright face dlib did not confirm or confirmed with a HOG score at least HOG_MARGIN
    lower (an upside-down face half-recognised upright); a turned one dlib did not
    confirm is kept only from ROTATED_SCORE and only where no face was found."""
    faces = list(faces)
    order = sorted(range(len(proposals)), key=lambda i: (confirmations[i] is None, -proposals[i][4]))
    for i in order:
        proposal, confirmed = proposals[i], confirmations[i]
        if confirmed is None and proposal[4] < ROTATED_SCORE:
            continue
        k = int(proposal[5])
        box = _clip(confirmed[0] if confirmed else
                    unrotate_box(derived_box(rotate_box(proposal, k, width, height)), k, width, height), width, height)
        if box[2] - box[0] < 2 or box[3] - box[1] < 2:
            continue
        face = Face(box=box, score=float(proposal[4]), confirmed=confirmed is not None,
                    hog_score=confirmed[1] if confirmed else None, rotation=90 * k)
        same = [j for j, f in enumerate(faces) if _same_face(box, f.box)]
        if not same:
            faces.append(face)
        elif len(same) > 1:
            # it overlaps two faces: replacing either could lose another person's face; keep all
            # (a duplicate costs at most a review)
            if face.confirmed:
                faces.append(face)
        elif face.confirmed and faces[same[0]].rotation == 0 and (
                face.hog_score >= (faces[same[0]].hog_score or 0.0) + HOG_MARGIN):
            faces[same[0]] = face
    return faces


def _clip(box, width: int, height: int) -> tuple[int, int, int, int]:
    return (max(round(box[0]), 0), max(round(box[1]), 0), min(round(box[2]), width), min(round(box[3]), height))


def place_faces(proposals, confirmations, width: int, height: int) -> list[Face]:
    """One Face per distinct proposal, best score first: dlib's box where it confirmed the
    proposal, else the derived one. A confirmed box another face already has (dlib found the
    neighbour) does not cost this face its place: it keeps its derived box."""
    faces: list[Face] = []

    def clip(box):
        return _clip(box, width, height)

    def taken(box) -> bool:
        return any(_iou(box, f.box) > 0.5 for f in faces)

    for proposal, confirmed in zip(proposals, confirmations):
        if confirmed is not None and taken(clip(confirmed[0])):
            confirmed = None
        box = clip(confirmed[0] if confirmed else derived_box(proposal))
        if box[2] - box[0] < 2 or box[3] - box[1] < 2 or taken(box):
            continue  # nothing left of it in the photo, or a second proposal for one face
        faces.append(Face(box=box, score=float(proposal[4]), confirmed=confirmed is not None,
                          hog_score=confirmed[1] if confirmed else None))
    return faces


def encode_face(rgb: np.ndarray, face: Face, jitters: int = 1) -> np.ndarray:
    """The 128-d encoding of ``face`` computed from the full-resolution image
    (a turned face from a crop turned upright: the landmarks and encoder need it so)."""
    models = face_models()
    image, box = _upright(rgb, face) if face.rotation else (rgb, face.box)
    rect = models.dlib.rectangle(*box)
    shape = models.landmarks(image, rect)
    return np.asarray(models.encoder.compute_face_descriptor(image, shape, jitters), dtype=np.float64)


def aligned_chip(rgb: np.ndarray, face: Face, size: int = 24) -> np.ndarray:
    """The face cut out upright and aligned on its eyes and nose (dlib's 5-point landmarks, about
    2 ms), ``size`` px square: the same face gives the same chip whatever box the detector drew
    round it (dlib's boxes jump by a quarter of their width between frames), so the video tracker
    can tell one face from another (inspect.track.look)."""
    models = face_models()
    image, box = _upright(rgb, face) if face.rotation else (rgb, face.box)
    shape = models.landmarks(image, models.dlib.rectangle(*(int(c) for c in box)))
    return np.asarray(models.dlib.get_face_chip(image, shape, size=size, padding=0.0))


def _upright(rgb: np.ndarray, face: Face) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A crop around a turned face (a face width of margin), turned upright, and the face's box in it."""
    height, width = rgb.shape[:2]
    margin = face.width
    left, top = max(0, face.box[0] - margin), max(0, face.box[1] - margin)
    right, bottom = min(width, face.box[2] + margin), min(height, face.box[3] + margin)
    k = face.rotation // 90
    crop = np.ascontiguousarray(np.rot90(rgb[top:bottom, left:right], k))
    inside = (face.box[0] - left, face.box[1] - top, face.box[2] - left, face.box[3] - top)
    return crop, tuple(int(c) for c in rotate_box(inside, k, right - left, bottom - top))


def sharpness(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Focus measure of a face: variance of second differences of its 96x96 grey crop.

    Measured on real faces: sharp 300-1000; blurred by about 2% of the face width
    below 20, where the encoding drifts 0.2-0.4 from the sharp one.
    """
    from PIL import Image

    left, top, right, bottom = box
    crop = np.asarray(Image.fromarray(rgb[top:bottom, left:right]).convert("L").resize((96, 96)),
                      dtype=np.float64)
    return float(np.var(np.diff(crop, 2, axis=0)) + np.var(np.diff(crop, 2, axis=1)))


def find_and_encode(rgb: np.ndarray, jitters: int = 1, mode: str = "default",
                    promises: dict[str, int] = MODES, encode: bool = True) -> list[Face]:
    """Detect every face; encode each one wide enough (unless ``encode`` is False: face recognition
    is off, nothing biometric is computed) and measure its sharpness."""
    faces = detect_faces(rgb, mode, promises)
    for face in faces:
        if encode and face.width >= MIN_ENCODE_PX:
            face.encoding = encode_face(rgb, face, jitters)
        face.sharpness = sharpness(rgb, face.box)
    return faces
