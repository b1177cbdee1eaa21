"""Faces followed across a video's sampled frames: one person, one track (issue #14).

Stage: **inspect** (evidence, no decisions). :class:`Tracker` links the faces found in consecutive
sampled frames into tracks by how their boxes overlap, and says which faces to encode: encoding (83 ms
a face) is what made a clip cost twice its length, and a face that stays on screen looks the same from
one sample to the next. The decision still judges every track from its encoded faces; a face not
encoded only says when its track's person was on screen.

A track must never hold two people, so linking is greedy and shy (a library tracker was not used:
SORT, ByteTrack and norfair assign ambiguous boxes by a global optimum and carry tracks along a
predicted motion, which is what joins two people who cross):

* a face continues a track only when its box overlaps that track's last box by ``LINK_IOU`` or more,
  no other face overlaps that box so, and it overlaps no other track's box so (two candidates either
  way: a new track);
* a face that does not look like the track's last face (:func:`look`: its chip aligned on the eyes
  differs by ``SWAP_LOOK``) starts a new track: two people swapping places between samples;
* a scene cut (the whole frame changes by ``CUT_DIFF``) ends every track, and so does a time that
  jumps back (joined recordings: the footage after it is new, and "every ``video_encode_seconds``"
  counted from a later time would never come due in it).

A face of a track is encoded (:meth:`Tracker.step`) when its track starts, when it no longer looks like
the last face of its track that was encoded (``SAME_LOOK``), when it is ``LARGER`` times wider or
``SHARPER`` times sharper than the best encoded, and at least every ``video_encode_seconds``. Of a
track's encoded faces the decision judges a few (:func:`judged`): the best ``JUDGED``, the face nearest
each student any of them resembles, and any that looks like none of those (never judge less).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: A face continues a track whose last box it overlaps by this IoU (and no other way round).
LINK_IOU = 0.3
#: Mean grey difference (0-255) of two sampled frames shrunk to CUT_SIZE from which they are a scene cut.
CUT_DIFF = 24.0
CUT_SIZE = (32, 18)
#: Side of the grey thumbnail of a face's aligned chip (:func:`look`), normalised to mean 0 and spread 1.
LOOK_PX = 12
#: Mean difference of two faces' looks from which the face is encoded again (it drifted from the face
#: last encoded), and from which it is another face (a new track). Measured: the same face in
#: consecutive samples of a moving clip differs by 0.05 (median), 0.08 (90th percentile); two
#: different people of 60 LFW faces (aligned photos, so alike) by 0.32 at the least, 0.88 the median.
SAME_LOOK = 0.2
SWAP_LOOK = 0.3
#: A face this many times wider, or sharper, than the best encoded face of its track is encoded.
LARGER, SHARPER = 1.25, 2.0
#: Encoded faces judged per track at least (the best); more when they differ (:func:`judged`).
JUDGED = 3


def version() -> str:
    """The tracker's numbers, for the scan cache (runners.scan): which faces of a clip are encoded
    and judged depends on them, so a clip checked by a tracker tuned otherwise is checked again."""
    return (f"track:{LINK_IOU}:{CUT_DIFF}:{CUT_SIZE}:{LOOK_PX}:{SAME_LOOK}:{SWAP_LOOK}:{LARGER}:{SHARPER}:"
            f"{JUDGED}")


def look(rgb: np.ndarray, face) -> np.ndarray:
    """A face's look: its aligned chip (:func:`~consentguard.inspect.faces.aligned_chip`) as a grey
    LOOK_PX x LOOK_PX thumbnail, normalised (lighting aside)."""
    from PIL import Image

    from consentguard.inspect.faces import aligned_chip

    grey = Image.fromarray(aligned_chip(rgb, face, 2 * LOOK_PX)).convert("L").resize((LOOK_PX, LOOK_PX), Image.BILINEAR)
    grey = np.asarray(grey, np.float32)
    return (grey - grey.mean()) / max(float(grey.std()), 1.0)


def frame_look(rgb: np.ndarray) -> np.ndarray:
    """A whole frame's grey CUT_SIZE thumbnail (for scene cuts)."""
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).convert("L").resize(CUT_SIZE, Image.BILINEAR), np.float32)


def differs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / max((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter, 1e-9)


@dataclass
class Track:
    """One face followed across sampled frames: ``boxes`` (time, box) in every frame it was found in."""

    id: int
    boxes: list[tuple[float, tuple[int, int, int, int]]] = field(default_factory=list)
    look: np.ndarray | None = field(default=None, repr=False)          # its last face's
    encoded_look: np.ndarray | None = field(default=None, repr=False)  # its last encoded face's
    encoded_at: float | None = None
    best_width: int = 0
    best_sharpness: float = 0.0
    encodings: int = 0
    open: bool = True

    def to_json(self) -> list[list]:
        """``boxes`` as the result document gives them: [t, x1, y1, x2, y2], ints for the box."""
        return [[round(t, 3), *(int(c) for c in box)] for t, box in self.boxes]


class Tracker:
    """Links each sampled frame's faces to the tracks of the frame before (:meth:`step`)."""

    def __init__(self, encode_seconds: float):
        self.encode_seconds = encode_seconds
        self.tracks: list[Track] = []
        self.frame: np.ndarray | None = None
        self.time: float | None = None
        self.cuts = 0

    def step(self, time: float, rgb: np.ndarray, faces: list) -> list[tuple[Track, bool]]:
        """For each face (``box``, ``width``, ``sharpness``) of the frame at ``time``: its track and
        whether to encode it. Call :meth:`encoded` for each face encoded."""
        now = frame_look(rgb)
        cut = self.frame is not None and differs(now, self.frame) >= CUT_DIFF
        self.cuts += cut
        if cut or (self.time is not None and time < self.time - 1e-6):
            for track in self.tracks:
                track.open = False
        self.frame, self.time = now, time
        live = [t for t in self.tracks if t.open]
        looks = [look(rgb, f) for f in faces]
        links = _links([t.boxes[-1][1] for t in live], [f.box for f in faces])
        out = []
        for k, face in enumerate(faces):
            track = live[links[k]] if links.get(k) is not None else None
            if track is not None and differs(looks[k], track.look) >= SWAP_LOOK:
                track = None  # another face where the track's was: never the same track
            if track is None:
                track = Track(len(self.tracks) + 1)
                self.tracks.append(track)
            track.boxes.append((time, tuple(int(c) for c in face.box)))
            track.look = looks[k]
            out.append((track, self._encode(track, face, looks[k], time)))
        continued = {id(t) for t, _ in out}
        for track in live:
            if id(track) not in continued:
                track.open = False  # not seen in this frame: a face seen again later is a new track
        return out

    def _encode(self, track: Track, face, looked: np.ndarray, time: float) -> bool:
        if track.encoded_look is None:
            return True
        return (differs(looked, track.encoded_look) >= SAME_LOOK
                or face.width >= LARGER * track.best_width
                or (face.sharpness or 0.0) >= SHARPER * max(track.best_sharpness, 1.0)
                or time - track.encoded_at >= self.encode_seconds - 1e-6)

    def encoded(self, track: Track, face, time: float) -> None:
        """Note that ``face`` of ``track`` (the last face :meth:`step` gave it) was encoded at ``time``."""
        track.encoded_look, track.encoded_at, track.encodings = track.look, time, track.encodings + 1
        track.best_width = max(track.best_width, face.width)
        track.best_sharpness = max(track.best_sharpness, face.sharpness or 0.0)


def follow(rgb: np.ndarray, time: float, tracker: Tracker, policy) -> tuple[list, list[tuple[object, Track]]]:
    """One sampled frame of a clip: its faces (searched down to the thorough promise,
    :func:`~consentguard.inspect.faces.video_scale`), each linked to its track, and the faces the
    tracker asked to encode with their tracks, encoded (one too small to encode keeps no encoding:
    it is evidence all the same, too small to identify)."""
    from consentguard.inspect.faces import MIN_ENCODE_PX, detect_faces, encode_face, sharpness

    faces = detect_faces(rgb, policy.detect_mode, policy.face_promises, video=True)
    for face in faces:
        face.sharpness = sharpness(rgb, face.box)
    encoded = []
    for face, (track, encode) in zip(faces, tracker.step(time, rgb, faces)):
        if encode:
            if face.width >= MIN_ENCODE_PX and policy.face_recognition:  # off: followed, never identified
                face.encoding = encode_face(rgb, face, policy.encode_jitters)
            tracker.encoded(track, face, time)
            encoded.append((face, track))
    return faces, encoded


def _links(last: list, boxes: list) -> dict[int, int | None]:
    """Face k -> index of the track it continues, or None: only a clear overlap with exactly one
    track, which overlaps no other face so."""
    if not last or not boxes:
        return {}
    overlap = np.array([[iou(a, b) for a in last] for b in boxes]) >= LINK_IOU
    return {k: int(np.flatnonzero(row)[0]) if row.sum() == 1 and overlap[:, int(np.flatnonzero(row)[0])].sum() == 1
            else None for k, row in enumerate(overlap)}


def judged(faces: list, group_distance: float, review_distance: float) -> list[int]:
    """Which of one track's encoded faces (FaceEvidence, in time order) the decision judges: every one
    without an encoding (it cannot be identified: a review, never dropped), the JUDGED best (confirmed
    by dlib, widest, sharpest), for every student any of them came within ``review_distance`` of the
    face nearest that student, and any face farther than ``group_distance`` from each face kept (it
    may be someone else: a swap the looks did not show)."""
    encoded = [i for i, f in enumerate(faces) if f.encoding is not None]
    keep = [i for i, f in enumerate(faces) if f.encoding is None]
    best = sorted(encoded, key=lambda i: (not faces[i].confirmed, -faces[i].width, -(faces[i].sharpness or 0.0)))
    keep += best[:JUDGED]
    nearest: dict[str, tuple[float, int]] = {}
    for i in encoded:
        for number, distance in faces[i].nearest or []:
            if distance <= review_distance and distance < nearest.get(number, (np.inf, -1))[0]:
                nearest[number] = (distance, i)
    keep += [i for _, i in nearest.values()]
    for i in best[JUDGED:]:
        kept = [faces[j].encoding for j in set(keep) if faces[j].encoding is not None]
        if all(np.linalg.norm(faces[i].encoding - e) > group_distance for e in kept):
            keep.append(i)
    return sorted(set(keep))
