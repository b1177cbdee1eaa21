"""The library API: check photos (and a caption) against the roster in force.

This wires the stages together — image → faces → match → names → decide →
audit — for the CLI and the web page alike, so both always agree::

    from consentguard import Checker, open_db
    checker = Checker(open_db())
    result = checker.check_path("assembly.jpg", caption="Well done, Sam!")
    result.verdict, result.reasons
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path

import sqlite_utils

from consentguard.decide import (
    PASS,
    Decision,
    FaceEvidence,
    FaceResult,
    RosterContext,
    Verdict,
    combine,
    unknown_face_verdict,
    worst,
)
from consentguard.errors import ConsentGuardError, DatabaseError, ImageError
from consentguard.inspect.faces import DETECTOR_VERSION
from consentguard.inspect.image import LoadedImage, decode_image, read_file, sha256_bytes
from consentguard.inspect.track import Track, Tracker, follow, judged
from consentguard.inspect.video import (
    clock,
    frame_time,
    frame_view,
    is_video,
    open_video,
    sha256_file,
    subtitle_cues,
    xmp_texts,
)
from consentguard.match.index import FaceIndex, load_index, load_students, unprotected_warning
from consentguard.match.names import NameHit, scrub
from consentguard.match.texts import FrameTexts, NameSearch
from consentguard.people import PhotoEvidence, decide_batch
from consentguard.policy import DEFAULTS, Policy
from consentguard.review import SAME_FACE_IOU, FaceDecision, ReviewItem, decisions_for, iou
from consentguard.roster.consent import CHANNELS
from consentguard.store import audit
from consentguard.store import portraits as stored_portraits
from consentguard.store.db import latest_sync_id, roster_policies
from consentguard.store.settings import saved_values, without_face_recognition_if_off

#: Longest side of a face close-up (px): large enough for a person to recognise the face in review.
CLOSEUP_PX = 112
#: What every check and scan says while a saved setting keeps OCR off (Checker.warnings).
OCR_SAVED_OFF = ("the text inside photos is not read (the saved setting ocr is false), so a name on a certificate, "
                 "name tag, jersey or slide is not checked; 'consentguard config unset ocr' reads it again")
#: What a video's facts say while ocr is off (a run's --no-ocr or the saved setting).
OCR_OFF_VIDEO = ("the text inside the frames was not read (ocr is off), so a name in a title, lower third, jersey "
                 "or name tag is not checked")
#: Settings a cached scan result depends on besides those always in its version: named only
#: when not at their default, so the caches of earlier versions stay valid at the defaults.
CACHE_SETTINGS = ("detect_face_px", "thorough_face_px", "ocr_side", "ocr_side_thorough", "first_only_max_shared",
                  "video_sample_seconds", "video_ocr_seconds", "video_encode_seconds", "face_recognition")


@dataclass
class CheckResult:
    """One photo's verdict with everything that explains it (the public JSON)."""

    path: str
    sha256: str | None
    decision: Decision
    sync_id: int | None
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    thresholds: dict = field(default_factory=dict)
    channel: str | None = None
    school: str | None = None
    caption: str | None = None
    #: what the decision was made from (faces with encodings and close-ups): kept so the photo can be
    #: decided again with others (:meth:`Checker.decide_together`); biometric, never in :meth:`to_json`
    evidence: PhotoEvidence | None = field(default=None, repr=False, compare=False)
    #: the review items this photo's decision listed (its batch's, after :meth:`Checker.decide_together`)
    review_items: list[ReviewItem] = field(default_factory=list, repr=False, compare=False)
    #: a video's facts (duration, frames sampled, ...); None for a photo
    video: dict | None = None
    #: the file's absolute path when it was read from disk (``path`` is as given, maybe relative: a
    #: re-check run from another folder, as the nightly job is, finds the file here); None for bytes
    location: str | None = None

    @property
    def scrubbed_caption(self) -> str | None:
        """The caption with every restricted name replaced by "a student"."""
        if self.caption is None:
            return None
        return scrub(self.caption, [h for h in self.decision.names if h.source == "caption"])

    @property
    def verdict(self) -> Verdict:
        return self.decision.verdict

    @property
    def reasons(self) -> list[str]:
        return self.decision.reasons

    def to_json(self) -> dict:
        decided = decision_json(self.decision)
        tracked = decided.pop("video", None)  # a video's tracks, with their verdicts (timed_decision)
        return {
            "path": self.path, "sha256": self.sha256, **decided,
            "image": {"width": self.width, "height": self.height, "exif_orientation": self.orientation},
            "roster_sync_id": self.sync_id,
            "channel": self.channel,
            "school": self.school,
            "caption": self.caption,
            **({"location": self.location} if self.location is not None else {}),
            "scrubbed_caption": self.scrubbed_caption,
            "thresholds": self.thresholds,
            **({"video": {**self.video, **(tracked or {})}} if self.video is not None else {}),
        }


def decision_json(d: Decision) -> dict:
    """The fields of a result document that come from its decision: a photo decided again with its
    batch (the scan's cached and fresh results) gets them replaced, and nothing else."""
    doc = {"verdict": d.verdict, "reasons": d.reasons, "faces": [f.to_json() for f in d.faces],
           "names": [n.to_json() for n in d.names], "student_numbers": d.student_numbers}
    items = getattr(d, "review_items", None)  # the batch stage lists the items a photo is in
    if items is not None:
        doc["review_items"] = [getattr(i, "id", i) for i in items]  # ids (or the items themselves)
    video = getattr(d, "video", None)  # a video's facts and tracks, whose verdicts change with the decision
    if video is not None:
        doc["video"] = video
    if d.declared:
        doc["declared"] = d.declared
    if d.photo_verdict is not None:  # the picture alone and the caption alone (the page shows them apart)
        doc["photo_verdict"], doc["caption_verdict"] = d.photo_verdict, d.caption_verdict or PASS
    return doc


@dataclass
class TimedFace(FaceResult):
    """A person's faces across a video's sampled frames, judged once (issue #14): the worst of
    them, shown by a representative frame's box (``view``, ``time``), seen from ``start`` to
    ``end`` (the first and last sampled frames its tracks are in, seconds) in ``frames`` sampled
    frames; ``tracks``: the ids of its tracks (``video.tracks``)."""

    start: float | None = None
    end: float | None = None
    time: float | None = None
    frames: int = 1
    tracks: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        return {**super().to_json(), "start": self.start, "end": self.end, "time": self.time,
                "frames": self.frames, "tracks": self.tracks}


def timed_decision(photo: PhotoEvidence, decision: Decision, context: RosterContext, policy: Policy) -> Decision:
    """A video's decision from its frames' (each sampled frame is a picture of the batch, so one
    person's faces across frames are grouped and judged together): one entry per person (a face
    not grouped: its own), its worst face as representative, with when it was seen (the span of
    its tracks: the faces between those judged extend it); the verdict is never milder than the
    frames' (``decision``). The tracks get the verdict of the person they belong to
    (``Decision.video``, :func:`tracks_json`). A photo's decision is returned as it is."""
    if not is_video(photo.path):
        return decision
    tracks = (photo.video or {}).get("tracks", [])
    track_of = {k: t["id"] for t in tracks for k in t["faces"]}
    seen_at = {t["id"]: [b[0] for b in t["boxes"]] for t in tracks}
    people: dict = {}
    for k, (face, result) in enumerate(zip(photo.faces, decision.faces)):
        people.setdefault(result.person or k, []).append((frame_time(face.view), face, result, track_of.get(k)))
    faces, results = [], []
    for members in people.values():
        t, face, result, _ = min(members, key=_representative)
        ids = sorted({m[3] for m in members if m[3] is not None})
        times = sorted({m[0] for m in members if m[0] is not None} | {s for i in ids for s in seen_at[i]}) or [0.0]
        start, end = times[0], times[-1]
        span = clock(start, 0) if end == start else f"{clock(start, 0)}-{clock(math.ceil(end), 0)}"
        own = result.reason or ""
        own = own.removeprefix(f"in {result.view}: ")
        seen = f" (seen in {len(times)} sampled frame{'s' if len(times) != 1 else ''}; this one {result.view})"
        values = {f.name: getattr(result, f.name) for f in fields(FaceResult)}
        values["reason"] = f"{span} {own}{seen}" if result.reason else None
        faces.append(face)
        results.append(TimedFace(**values, start=round(start, 2), end=round(end, 2), time=t, frames=len(times),
                                 tracks=ids))
    timed = combine(faces, results, photo.names, context, policy, photo.error, photo.unchecked,
                    declared=photo.declared)
    timed.verdict = worst([timed.verdict, decision.verdict])
    timed.photo_verdict = worst([timed.photo_verdict or PASS, decision.photo_verdict or decision.verdict])
    timed.review_items = decision.review_items
    if photo.video is not None:
        timed.video = {**{k: v for k, v in photo.video.items() if k != "tracks"},
                       "tracks": tracks_json(tracks, results)}
    return timed


def tracks_json(tracks: list[dict], entries: list[TimedFace]) -> list[dict]:
    """A video's tracks as the result document gives them: id, the verdict and student of the person
    entry the track belongs to (the worst, should its faces be in two), and its box in every sampled
    frame it was found in. A track in no entry (never so: each has a face judged) is a review."""
    out = []
    for track in tracks:
        mine = [e for e in entries if track["id"] in e.tracks]
        entry = min(mine, key=lambda e: (-e.verdict.severity, e.student_number is None), default=None)
        out.append({"id": track["id"], "verdict": entry.verdict if entry else "review",
                    "student_number": entry.student_number if entry else None, "boxes": track["boxes"]})
    return out


def _representative(member) -> tuple:
    """Which of a person's frames shows them: the worst verdict, then the face nearest a student
    it matched (its own match, not "the same person as"), then the widest."""
    _, face, result, _ = member
    near = result.distance if result.student_number and result.distance is not None else math.inf
    return (-result.verdict.severity, "same person" in (result.reason or ""), near, -face.width)


def concerns(item: ReviewItem, result: "CheckResult") -> bool:
    """Whether a review item is about this photo (an item naming no photo: about the whole batch)."""
    return not item.photos or bool({result.path, result.sha256} & set(item.photos))


def apply_decisions(photos: list[PhotoEvidence], decisions: dict[str, list[FaceDecision]]) -> None:
    """Put the staff decisions in force about each face on it (``FaceEvidence.decided``): same photo
    (content hash), same view, boxes overlapping by IoU >= SAME_FACE_IOU (the detector finds a face
    again a few pixels off). A decision is about one face: it goes to the face of its view that
    overlaps its box most, never also to a face beside it (two faces of a crowd can overlap by
    more than SAME_FACE_IOU; "is permitted Ben" must not reach the restricted face behind him).
    Photo-level decisions (no box) stay with the photo (``decide_batch``)."""
    for photo in photos:
        for face in photo.faces:
            face.decided = []
        for d in decisions.get(photo.sha256 or "", []):
            if d.box is None:
                continue
            overlaps = [(iou(d.box, face.box), k) for k, face in enumerate(photo.faces) if face.view == d.view]
            best, k = max(overlaps, default=(0.0, None))
            if k is not None and best >= SAME_FACE_IOU:
                photo.faces[k].decided.append(d)


def closeup(rgb, box, rotation: int = 0, size: int = CLOSEUP_PX) -> bytes | None:
    """A small JPEG of one face (with a margin, turned upright), cropped from the picture it is in,
    so a person reviewing it sees the face itself, not a box on a thumbnail."""
    import io

    from PIL import Image

    left, top, right, bottom = box
    pad = round(0.25 * max(right - left, bottom - top))
    height, width = rgb.shape[:2]
    crop = rgb[max(0, top - pad):min(height, bottom + pad), max(0, left - pad):min(width, right + pad)]
    if crop.size == 0:
        return None
    im = Image.fromarray(crop)
    if rotation:
        im = im.rotate(rotation, expand=True)  # rotate() turns anticlockwise: undo a clockwise turn
    im.thumbnail((size, size), Image.BILINEAR)
    out = io.BytesIO()
    im.convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def ocr_saved_off(db: sqlite_utils.Database, policy: Policy) -> bool:
    """Whether OCR is off by a saved setting, not by a run's own --no-ocr: whoever runs the check (or
    uses the web page) may not know, so every check, scan and the page say so (:data:`OCR_SAVED_OFF`)."""
    return not policy.ocr and saved_values(db).get("ocr") is False


class Checker:
    """Checks photos against one database's roster and face index."""

    def __init__(self, db: sqlite_utils.Database, policy: Policy | None = None,
                 interface: str = "cli", record: bool = True, channel: str | None = None,
                 school: str | None = None, root: str | Path | None = None):
        if channel is not None and channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")
        self.db = db
        self.channel = channel
        self.policy = without_face_recognition_if_off(db, policy or Policy())
        self.interface = interface
        self.record = record
        self.sync_id = latest_sync_id(db)
        self.built_on = date.today()
        self.references = _references(db)
        if self.sync_id is None:
            raise DatabaseError("no roster has been synced yet: run 'consentguard sync EXPORT' first")
        self.index_policy, self.consent_policy = roster_policies(db)
        self.students = load_students(db, channel)
        self.index: FaceIndex = load_index(db, self.students, self.index_policy)
        restricted = {n for n, s in self.students.items() if s.photo_restricted}
        self.school = school
        if school is not None:
            if not any(s.school_id and s.attends(school) for s in self.students.values()):
                raise DatabaseError(f"school {school!r}: no student of the roster in force belongs to it")
        in_scope = {n for n in restricted if self.students[n].attends(school)}
        here = len(in_scope) if school is not None else None
        #: photo-restricted students in scope whose face cannot be recognised (no usable portrait), from
        #: the roster and index this checker judges with (not a second read that a sync could change)
        self.unprotected = sorted(in_scope - set(self.index.owners)) if self.policy.face_recognition else []
        self.context = RosterContext(self.students, len(restricted), len(restricted & set(self.index.owners)),
                                     self.sync_id, unknown_face_verdict(self.consent_policy),
                                     school, here, len(self.unprotected))
        self.names = NameSearch.of(self.students.values(), root, self.policy.first_only_max_shared)
        self.root = self.names.root
        self.ocr_saved_off = ocr_saved_off(db, self.policy)

    def declared(self, people: str | None) -> list:
        """The people staff declared as shown (``check --people``), as roster students; an unknown or
        ambiguous name is a one-line :class:`~consentguard.errors.ConsentGuardError`."""
        from consentguard.match.names import DeclaredError, declared_people

        try:
            return declared_people(people or "", self.students)
        except DeclaredError as exc:
            raise ConsentGuardError(str(exc)) from exc

    def current(self) -> "Checker":
        """This checker, or a new one built the same way if a roster sync has landed (or the day has
        changed: releases expire at midnight) since it was built: a long scan or server judges every
        photo against the roster in force when it is checked. A face confirmed in review as a student
        (a new reference) or an index purge counts too."""
        if (latest_sync_id(self.db) == self.sync_id and date.today() == self.built_on
                and _references(self.db) == self.references):
            return self
        return Checker(self.db, self.policy, self.interface, self.record, self.channel, self.school, self.root)

    @property
    def warnings(self) -> list[str]:
        """What weakens every check by this checker, said once per check or scan."""
        said = [unprotected_warning(len(self.unprotected), self.school)] if self.unprotected else []
        return said + ([OCR_SAVED_OFF] if self.ocr_saved_off else [])

    @property
    def thresholds(self) -> dict:
        """Every number a face's verdict depends on, and the detector that found the faces (a re-check
        trusts an earlier check's faces only when found by the same detector in the same mode)."""
        p = self.policy
        names = ("block_distance", "review_distance", "margin", "recognise_distance", "recognise_margin",
                 "min_face_px", "small_face_floor", "small_recognise_distance", "small_recognise_margin",
                 "small_review_distance", "min_sharpness", "group_distance", "group_margin", "detect_mode", "ocr")
        return {**{name: getattr(p, name) for name in names}, "detector": DETECTOR_VERSION}

    def check_path(self, path: str | Path, caption: str | None = None, record: bool | None = None) -> CheckResult:
        """``record`` (default: the checker's): False when the photo is decided again with others
        (:meth:`decide_together` then records the final verdict, once). A video (by extension)
        is checked by :meth:`check_video`."""
        if is_video(path):
            return self.check_video(path, caption, record)
        try:
            data = read_file(path)
        except ImageError as exc:
            return self._finish(str(path), None, None, [], caption, str(exc), record=record)
        return self.check_decoded(data, str(path), caption, record, os.path.abspath(path))[0]

    def check_bytes(self, data: bytes, name: str, caption: str | None = None,
                    record: bool | None = None) -> CheckResult:
        return self.check_decoded(data, name, caption, record)[0]

    def check_decoded(self, data: bytes, name: str, caption: str | None = None, record: bool | None = None,
                      location: str | None = None) -> tuple[CheckResult, LoadedImage | None]:
        """Check image bytes; also return the decoded image (None if it could not be decoded).
        ``location``: the absolute path the bytes were read from (None: not from a file on disk)."""
        try:
            image = decode_image(data, name)
            faces = self._faces(image)
            text = self.names.pictures(image, self.policy) if self.policy.ocr else ([], None)
        except ImageError as exc:
            return self._finish(name, sha256_bytes(data) if data else None, None, [], caption, str(exc),
                                record=record, location=location), None
        except MemoryError:  # past the worker's memory limit (limit_worker_memory): never a pass
            return self._finish(name, sha256_bytes(data) if data else None, None, [], caption, _too_large(name),
                                record=record, location=location), None
        return self._finish(name, image.sha256, image, faces, caption, None, text, record, location), image

    def check_video(self, path: str | Path, caption: str | None = None, record: bool | None = None,
                    progress: Callable[[float, float | None], None] | None = None) -> CheckResult:
        """Check a clip: faces searched in every sampled frame (``video_sample_seconds``), followed
        from frame to frame (:class:`~consentguard.inspect.track.Tracker`: one person, one track) and
        encoded when a track needs it (:meth:`_frame_faces`); a few of each track's faces judged, the
        frames decided as one batch (one verdict per person, with when: :func:`timed_decision`),
        names in the file name, container metadata and caption. A part not read is a review; a
        clip that cannot be opened or is past the limits is an error. ``progress(seconds, duration)``
        is called after each sampled frame (the page shows it; duration None when not declared)."""
        name, p = str(path), self.policy
        sha, faces, owners, video, tracker, found = None, [], [], None, Tracker(p.video_encode_seconds), 0
        text = FrameTexts(self.names, name, p) if p.ocr and self.names.anyone else None
        try:
            sha = sha256_file(path)
            with open_video(path, p.video_max_seconds, p.video_max_side) as video:
                for frame in video.frames(p.video_sample_seconds, p.video_max_seconds):
                    seen, encoded, tracks = self._frame_faces(frame, tracker)
                    found, faces, owners = found + seen, faces + encoded, owners + tracks
                    if text is not None:
                        text.see(frame.time, frame.rgb)
                    if progress is not None:
                        progress(frame.time, video.duration)
        except ImageError as exc:
            return self._finish(name, sha, None, [], caption, str(exc), record=record)
        except MemoryError:
            return self._finish(name, sha, None, [], caption, _too_large(name), record=record)
        facts = {"duration": None if video.duration is None else round(video.duration, 3),
                 "fps": None if video.fps is None else round(video.fps, 3), "codec": video.codec,
                 "rotation": video.rotation, "frames_decoded": video.decoded, "frames_sampled": video.sampled,
                 "sample_seconds": p.video_sample_seconds,
                 "last_frame": None if video.last is None else round(video.last, 3),
                 "faces_found": found, "faces_encoded": len(faces), "scene_cuts": tracker.cuts}
        faces, tracks = _judged_tracks(faces, owners, tracker.tracks, p)
        facts["faces_judged"] = len(faces)
        names, unchecked = self._video_names(name, video, caption, text, facts)
        facts["unchecked"] = list(video.unchecked) + unchecked  # a safe copy is refused while any part was not read
        evidence = PhotoEvidence(name, sha, faces, names, list(facts["unchecked"]), None, {**facts, "tracks": tracks})
        (decision,), items = self.decide([evidence])
        result = CheckResult(path=name, sha256=sha, decision=decision, sync_id=self.sync_id, width=video.width,
                             height=video.height, thresholds=self.thresholds, channel=self.channel,
                             school=self.school, caption=caption, evidence=evidence, review_items=items, video=facts,
                             location=os.path.abspath(path))
        if self.record if record is None else record:
            audit.record_check(self.db, result, self.interface)
        return result

    def _video_names(self, name: str, video, caption: str | None, text: FrameTexts | None,
                     facts: dict) -> tuple[list[NameHit], list[str]]:
        """A clip's name hits and the text parts not read: caption, file name, every text the
        container carries (metadata, chapters), its subtitle streams, XMP packets, and the text read
        in its frames (``text``: None when ocr is off, which ``facts`` then says)."""
        cues, unread = subtitle_cues(name, video.start or 0.0)
        xmp, bad_xmp = xmp_texts(name, (video.width, video.height))
        fields = video.metadata + cues + xmp
        names = self.names.caption(caption) + self.names.path(name) + self.names.metadata(fields)
        facts.update({"ocr": text is not None, "ocr_seconds": self.policy.video_ocr_seconds,
                      "frames_read_for_text": text.frames.read if text is not None else 0,
                      "subtitle_cues": len(cues), "xmp_fields": len(xmp)})
        if not self.policy.ocr:
            facts["ocr_note"] = OCR_OFF_VIDEO
        return names + (text.hits if text is not None else []), unread + bad_xmp + (text.unchecked if text else [])

    def decide(self, photos: list[PhotoEvidence], rematch: bool = False) -> tuple[list[Decision], list[ReviewItem]]:
        """Decide photos as one batch (:func:`consentguard.people.decide_batch`) with the staff
        decisions in force about any of them (read now: a decision made since a photo was checked
        applies). ``rematch``: first match each encoded face against this checker's index again
        (evidence from the scan cache keeps only the nearest few students)."""
        if rematch:
            for photo in photos:
                for face in photo.faces:
                    if face.encoding is not None:
                        face.nearest = self.index.nearest(face.encoding)
        decisions = decisions_for(self.db, [p.sha256 for p in photos])
        apply_decisions(photos, decisions)
        found, items = decide_batch(photos, self.context, self.policy, decisions)
        return [timed_decision(p, d, self.context, self.policy) for p, d in zip(photos, found)], items

    def decide_together(self, results: list[CheckResult], record: bool | None = None) -> list[ReviewItem]:
        """Decide several checked photos again as one batch: faces of one person across them are
        judged together, the decisions in force apply. Each result's decision is replaced, the final
        verdicts are recorded in the audit trail (once per photo; ``record`` as for check_path) and the
        batch's review items are returned. A result without evidence keeps its own decision."""
        batch = [r for r in results if r.evidence is not None]
        decisions, items = self.decide([r.evidence for r in batch])
        for result, decision in zip(batch, decisions):
            result.decision = decision
            result.review_items = [i for i in items if concerns(i, result)]
        if self.record if record is None else record:
            for result in results:
                audit.record_check(self.db, result, self.interface)
        return items

    @property
    def version(self) -> str:
        """What a cached result depends on: roster run, channel, policy, and the day
        (releases expire at midnight, so yesterday's pass may not be today's)."""
        from consentguard.inspect.image import DECODER_VERSION
        from consentguard.match.names import MATCHER_VERSION

        p = self.policy
        return (f"{date.today().isoformat()}:{DETECTOR_VERSION}:{DECODER_VERSION}:{MATCHER_VERSION}:sync{self.sync_id}:{self.channel or 'any'}:"
                f"{self.school or 'all'}:{p.block_distance}:{p.review_distance}:"
                f"{p.margin}:{p.recognise_distance}:{p.recognise_margin}:{p.min_face_px}:{p.min_sharpness}:{p.detect_mode}:{p.encode_jitters}:ocr{int(p.ocr)}"
                f":small{p.small_face_floor}:{p.small_recognise_distance}:{p.small_recognise_margin}:{p.small_review_distance}"
                + "".join(f":{name}{getattr(p, name)}" for name in CACHE_SETTINGS
                          if getattr(p, name) != DEFAULTS[name]))

    def _faces(self, image: LoadedImage) -> list[FaceEvidence]:
        """The faces in the photo as shown and in every other view of the file (frames, pages, ...)."""
        found = self._faces_in(image.rgb, None, True)
        for view in image.views:
            found += self._faces_in(view.rgb, view.label, view.same_pixels)
        return found

    def _faces_in(self, rgb, view: str | None, on_photo: bool) -> list[FaceEvidence]:
        from consentguard.inspect.faces import find_and_encode  # loads dlib on first photo only

        faces = find_and_encode(rgb, self.policy.encode_jitters, self.policy.detect_mode, self.policy.face_promises,
                                encode=self.policy.face_recognition)
        return [self._evidence(rgb, f, view, on_photo) for f in faces]

    def _evidence(self, rgb, face, view: str | None, on_photo: bool) -> FaceEvidence:
        # with face recognition off nothing biometric is kept: no encoding, no close-up of the face
        return FaceEvidence(face.box, None if face.encoding is None else self.index.nearest(face.encoding),
                            face.sharpness, face.confirmed, view, face.rotation, on_photo, encoding=face.encoding,
                            closeup=closeup(rgb, face.box, face.rotation) if self.policy.face_recognition else None)

    def _frame_faces(self, frame, tracker: Tracker) -> tuple[int, list[FaceEvidence], list[Track]]:
        """A sampled frame's faces, each linked to its track (:func:`~consentguard.inspect.track.follow`):
        (how many were found, the faces encoded as evidence, their tracks). A face the tracker does
        not ask for is not encoded: it only extends its track."""
        faces, encoded = follow(frame.rgb, frame.time, tracker, self.policy)
        view = frame_view(frame.time)
        return len(faces), [self._evidence(frame.rgb, f, view, False) for f, _ in encoded], [t for _, t in encoded]

    def find_names(self, caption: str | None) -> list[NameHit]:
        """Restricted names in a caption (:meth:`NameSearch.caption`)."""
        return self.names.caption(caption)

    def _finish(self, name, sha, image, faces, caption, error, text=([], None), record=None,
                location=None) -> CheckResult:
        ocr_hits, ocr_error = text
        names = (self.names.caption(caption) + self.names.path(name)
                 + self.names.metadata(image.metadata if image is not None else []) + ocr_hits)
        unchecked = [image.metadata_error] if image is not None and image.metadata_error else []
        unchecked += [ocr_error] if ocr_error else []
        unchecked += image.unchecked if image is not None else []
        evidence = PhotoEvidence(name, sha, faces, names, unchecked, error)
        (decision,), items = self.decide([evidence])
        result = CheckResult(
            path=name, sha256=sha, decision=decision, sync_id=self.sync_id,
            width=image.width if image else None, height=image.height if image else None,
            orientation=image.orientation if image else None, thresholds=self.thresholds,
            channel=self.channel, school=self.school, caption=caption, evidence=evidence, review_items=items,
            location=location)
        if self.record if record is None else record:
            audit.record_check(self.db, result, self.interface)
        return result


def _judged_tracks(faces: list[FaceEvidence], owners: list[Track], tracks: list[Track],
                   policy: Policy) -> tuple[list[FaceEvidence], list[dict]]:
    """The faces judged (a few of each track's encoded faces: :func:`~consentguard.inspect.track.judged`)
    and the tracks as evidence: id, boxes ([t, x1, y1, x2, y2] in every sampled frame) and the
    indices of its judged faces."""
    kept, out = [], []
    for track in tracks:
        mine = [k for k, owner in enumerate(owners) if owner is track]
        chosen = [mine[i] for i in judged([faces[k] for k in mine], policy.group_distance, policy.review_distance)]
        out.append({"id": track.id, "boxes": track.to_json(), "faces": list(range(len(kept), len(kept) + len(chosen)))})
        kept += [faces[k] for k in chosen]
    return kept, out


def _too_large(name: str) -> str:
    """The error of a file past the worker's memory limit (:func:`limit_worker_memory`): never a pass."""
    return (f"{name}: too large to analyse within this worker's memory limit ({WORKER_MEMORY_GB} GB, "
            "CONSENTGUARD_WORKER_MEMORY_GB); refused")


def _references(db: sqlite_utils.Database) -> tuple:
    """What the face index was built from, cheaply: encoded portraits and references (their count and
    newest id), and whether face recognition is saved off, so a reference added in review, an encoding
    purged or face recognition turned off makes :meth:`Checker.current` rebuild."""
    return stored_portraits.index_state(db), saved_values(db).get("face_recognition")


#: Address space one worker process may use (GB): one huge upload fails with an error verdict in
#: its own worker instead of starving the others (a 12 MP photo peaks near 1.6 GB).
WORKER_MEMORY_GB = float(os.environ.get("CONSENTGUARD_WORKER_MEMORY_GB", "8"))


def limit_worker_memory(gb: float = WORKER_MEMORY_GB) -> None:
    """Cap this (worker) process's address space; call it in a worker's start-up."""
    import resource

    limit = int(gb * 1024 ** 3)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
