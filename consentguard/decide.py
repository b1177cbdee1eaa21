"""Decision: a pure function from evidence and policy to a verdict with reasons.

Nothing here reads files, models or the database, so every rule is tested
with a table of cases (tests/test_decide.py).

Verdicts (:class:`Verdict`), worst first: ``block`` (a restricted student is
clearly shown or named), ``error`` (the photo could not be analysed: never
publishable), ``review`` (close, uncertain or not fully judged), ``pass``.

Every rule from evidence to verdict lives here (issue #13, one home per rule):
faces (:func:`judge_face`, :func:`judge_person`), the name table
(:data:`NAME_STRENGTH`, which matching follows, so a hit arrives with its
verdict), a face that matches no one (:func:`unknown_face_verdict`), a part
not analysed (review) or a photo not analysed (error) in :func:`combine`, the
exit status (:func:`exit_status`) and counting (:func:`verdict_summary`).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from consentguard.inspect.video import clock
from consentguard.match.index import Student
from consentguard.policy import DEFAULTS, Policy


class Verdict(enum.StrEnum):
    """A verdict on a photo, a face or a name hit. It is its string ("block" == Verdict.BLOCK,
    JSON and the audit trail store "block"), but it orders by severity, not by the alphabet:
    PASS < REVIEW < ERROR < BLOCK, so ``max`` is the worst and ``sorted`` puts it last."""

    PASS = "pass"
    REVIEW = "review"
    ERROR = "error"    # the photo could not be analysed: never publishable, but it names no one
    BLOCK = "block"

    @property
    def severity(self) -> int:
        return SEVERITY[self]

    def __lt__(self, other):
        return self.severity < Verdict(other).severity

    def __le__(self, other):
        return self.severity <= Verdict(other).severity

    def __gt__(self, other):
        return self.severity > Verdict(other).severity

    def __ge__(self, other):
        return self.severity >= Verdict(other).severity


PASS, REVIEW, ERROR, BLOCK = Verdict.PASS, Verdict.REVIEW, Verdict.ERROR, Verdict.BLOCK
SEVERITY = {PASS: 0, REVIEW: 1, ERROR: 2, BLOCK: 3}


def worst(verdicts: Iterable[str]) -> Verdict:
    """The most severe of ``verdicts`` (strings or Verdicts); PASS for none."""
    return max((Verdict(v) for v in verdicts), default=PASS)


#: Exit status of a command that checked photos: the worst verdict's. A script publishes only on 0.
EXIT_STATUS = {PASS: 0, REVIEW: 3, ERROR: 3, BLOCK: 4}


def exit_status(verdicts: Iterable[str], not_checked: int = 0) -> int:
    """4 if any photo is blocked, else 3 if any needs review or had an error, or any of the photos
    found was ``not_checked`` (never a pass), else 0."""
    return EXIT_STATUS[worst([*verdicts, *[REVIEW] * not_checked])]


#: The order verdicts are counted in a summary: what a person must act on first.
SUMMARY_ORDER = (BLOCK, REVIEW, ERROR, PASS)


def count_verdicts(verdicts: Iterable[str]) -> dict[Verdict, int]:
    """How many of each verdict occur, in SUMMARY_ORDER (a verdict that does not occur is left out)."""
    counts = Counter(Verdict(v) for v in verdicts)
    return {v: counts[v] for v in SUMMARY_ORDER if v in counts}


def verdict_summary(verdicts: Iterable[str]) -> str:
    """"2 block, 1 review, 5 pass": the one line every listing, report and page counts with."""
    return ", ".join(f"{n} {v}" for v, n in count_verdicts(verdicts).items())


def unknown_face_verdict(consent_policy: str) -> Verdict:
    """What a face that matches no indexed student gets: in an opt-in district (a student may be
    shown only with a current release) review, in an opt-out one (shown unless refused) pass."""
    return REVIEW if consent_policy == "opt-in" else PASS


# --- names: how strongly each form of a name counts, where it is written, for which restriction ---

#: Where a name is written (``NameHit.source``; "metadata:<field>" is "metadata").
NAME_SOURCES = ("caption", "filename", "folder", "ocr", "metadata")
#: Why the student is looked for: "name" (name-restricted: any mention is refused) or "photo"
#: (photo-restricted: text that says who is shown suggests they may be in the photo).
RESTRICTIONS = ("name", "photo")
_ = None  # not looked for: that form there is no hit at all

#: The verdict a name hit gets, by its form (consentguard.match.names: forms strongest first),
#: where it is written and why the student is restricted. Matching looks only for what has a
#: verdict here. A photo-restricted student is looked for only where text says who is shown: text
#: read in the photo (a certificate, a name tag: by full name only, and a review, as the person
#: may not be in the picture) and the metadata fields that name the people shown or face regions.
#: A first name alone is not looked for in folder names; an initial run together with the last
#: name ("mgonzalez") only in file and folder names.
NAME_STRENGTH: dict[str, tuple[Verdict | None, ...]] = {
    #                -------------- name-restricted --------------    ------------- photo-restricted -------------
    # form           caption  filename folder   ocr      metadata      caption filename folder ocr      metadata
    "full":          (BLOCK,  BLOCK,   BLOCK,   BLOCK,   BLOCK,        _,      _,       _,     REVIEW,  BLOCK),
    "last_first":    (BLOCK,  BLOCK,   BLOCK,   BLOCK,   BLOCK,        _,      _,       _,     REVIEW,  BLOCK),
    "joined":        (BLOCK,  BLOCK,   BLOCK,   BLOCK,   BLOCK,        _,      _,       _,     REVIEW,  BLOCK),
    "nickname":      (REVIEW, REVIEW,  REVIEW,  REVIEW,  REVIEW,       _,      _,       _,     _,       REVIEW),
    "part_surname":  (REVIEW, REVIEW,  REVIEW,  REVIEW,  REVIEW,       _,      _,       _,     _,       REVIEW),
    "first_initial": (REVIEW, REVIEW,  REVIEW,  REVIEW,  REVIEW,       _,      _,       _,     _,       REVIEW),
    "initials":      (REVIEW, REVIEW,  REVIEW,  REVIEW,  REVIEW,       _,      _,       _,     _,       REVIEW),
    "file_initial":  (_,      REVIEW,  REVIEW,  _,       _,            _,      _,       _,     _,       _),
    "fuzzy":         (REVIEW, REVIEW,  REVIEW,  REVIEW,  REVIEW,       _,      _,       _,     _,       REVIEW),
    "first_only":    (REVIEW, REVIEW,  _,       REVIEW,  REVIEW,       _,      _,       _,     _,       REVIEW),
}
_COLUMNS = {(restriction, source): k for k, (restriction, source) in
            enumerate((r, s) for r in RESTRICTIONS for s in NAME_SOURCES)}


def name_strength(form: str, source: str, restriction: str = "name") -> Verdict | None:
    """The verdict of a hit of ``form`` in ``source`` for a student of ``restriction``
    (:data:`NAME_STRENGTH`), or None: that form is not looked for there."""
    return NAME_STRENGTH[form][_COLUMNS[restriction, source.split(":", 1)[0]]]


#: A name found in text: evidence from :mod:`consentguard.match.names`, judged here.
@dataclass
class NameHit:
    student_number: str
    text: str      # the exact words found, as written
    source: str    # caption | ocr | metadata:<field> | filename | folder
    form: str      # see FORMS
    strength: Verdict  # block | review: consentguard.decide.name_strength(form, source, restriction)
    start: int
    end: int
    box: tuple[int, int, int, int] | None = field(default=None)  # where in the photo (OCR text, face region)
    restriction: str = "name"  # name: a name-restricted student is named; photo: a photo-restricted one is shown
    matched: str | None = None  # fuzzy hits: the name as the roster writes it ("Maximiliano Villanueva")
    view: str | None = None  # OCR text in another picture of the file ("frame 3 of 12"); its box is there
    #: a video's: when the name was on screen or in a subtitle cue or chapter (first, last second)
    seconds: tuple[float, float] | None = None

    def to_json(self) -> dict:
        doc = {"student_number": self.student_number, "text": self.text, "source": self.source,
               "form": self.form, "strength": self.strength, "span": [self.start, self.end],
               "restriction": self.restriction}
        if self.box is not None:
            doc["box"] = list(self.box)
        if self.matched is not None:
            doc["matched"] = self.matched
        if self.view is not None:
            doc["view"] = self.view
        if self.seconds is not None:
            doc["start"], doc["end"] = self.seconds
        return doc


#: How each form is described in a reason.
DESCRIBE = {"full": "full name", "last_first": "last name, first name", "joined": "name written as one word",
            "nickname": "nickname and last name", "part_surname": "first name and part of the surname",
            "first_initial": "first name and last initial", "initials": "initials",
            "file_initial": "initial and last name in a file name",
            "first_only": f"first name alone, shared by at most {DEFAULTS['first_only_max_shared']} students",
            "fuzzy": "full name with a typo: at most one letter different in each word"}


def searched(source: str, restriction: str) -> bool:
    """Whether students of ``restriction`` are looked for in ``source`` at all."""
    return any(name_strength(form, source, restriction) for form in NAME_STRENGTH)


@dataclass
class FaceEvidence:
    """A detected face and its nearest indexed students (None: not encoded)."""

    box: tuple[int, int, int, int]
    nearest: list[tuple[str, float]] | None
    sharpness: float | None = None
    confirmed: bool = True  # False: a face only the CNN detector saw (turned, covered, unclear)
    view: str | None = None  # where in the file, if not the photo as shown: "frame 3 of 12", "EXIF thumbnail"
    rotation: int = 0  # degrees the face is turned clockwise in the photo (180: upside down)
    on_photo: bool = True  # its box is in the photo's own pixels (also for a hidden-pixel or smoothed view)
    #: the face's dlib encoding (None: not encoded); used to group faces of one person across a batch,
    #: never written to a report
    encoding: np.ndarray | None = field(default=None, repr=False, compare=False)
    closeup: bytes | None = field(default=None, repr=False, compare=False)  # small JPEG of the face, for review
    #: staff decisions in force about this face (review.FaceDecision), applied by the decision
    decided: list = field(default_factory=list)

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


def quality_problem(face: FaceEvidence, policy: Policy, context: "RosterContext | None" = None
                    ) -> tuple[str, str] | None:
    """(kind, why) this face cannot be identified reliably, or None; the kind groups
    faces with the same problem into one reason (see :func:`face_reasons`). With ``context``, a
    face in the small-face band that :func:`small_face_cleared` clears is not too small."""
    if face.width < policy.min_face_px and (context is None or small_face_cleared(face, context, policy) is None):
        band = (f" and not clearly recognised as a permitted student (from {policy.small_face_floor} px, only "
                "that lets a face pass)" if policy.small_face_floor <= face.width else "")
        return "small", f"is {face.width} px wide, too small to identify (minimum {policy.min_face_px} px){band}"
    if face.sharpness is not None and face.sharpness < policy.min_sharpness:
        return "blurred", (f"is too blurred to identify (sharpness {face.sharpness:.0f}, "
                           f"minimum {policy.min_sharpness:.0f})")
    if not face.confirmed:
        return "unclear", "is turned away, partly covered or unclear, so it cannot be identified reliably"
    return None


def small_face_cleared(face: FaceEvidence, context: "RosterContext", policy: Policy) -> str | None:
    """The permitted student a face of the small-face band (``small_face_floor`` up to
    ``min_face_px``) clearly is, or None. A small face's encoding drifts from its portrait, so the
    band asks more than a full-size face: nearest of all indexed students within
    ``small_recognise_distance``, nearer than the next by ``small_recognise_margin``, and no
    photo-restricted student within ``small_review_distance``. Calibrated per face width by
    scripts/calibrate.py --sizes (models/README.md); below the floor a face never passes."""
    if not policy.small_face_floor <= face.width < policy.min_face_px or not face.nearest:
        return None
    number = recognised_as(face, context, policy, policy.small_recognise_distance, policy.small_recognise_margin)
    restricted = min((d for n, d in face.nearest if _photo_restricted(context, n)), default=float("inf"))
    return number if number is not None and restricted > policy.small_review_distance else None


@dataclass
class RosterContext:
    """What the decision needs to know about the roster in force."""

    students: dict[str, Student]
    photo_restricted: int  # how many students are photo-restricted
    indexed: int           # how many of them have at least one encoded portrait
    sync_id: int | None
    unknown_face: Verdict = PASS  # a face that matches no indexed student: unknown_face_verdict()
    school: str | None = None  # the school the photo is from, if known
    restricted_here: int | None = None  # photo-restricted students in that school (None: the whole roster's)
    #: photo-restricted students in scope with no usable portrait (None: photo_restricted - indexed):
    #: while there are any, a face not recognised as a specific permitted student could be one of them
    unprotected_here: int | None = None

    @property
    def unprotected(self) -> int:
        return self.photo_restricted - self.indexed if self.unprotected_here is None else self.unprotected_here

    @property
    def at_risk(self) -> int:
        """Photo-restricted students who could be in the photo: a face that cannot be judged needs review."""
        return self.photo_restricted if self.restricted_here is None else self.restricted_here


@dataclass
class FaceResult:
    box: tuple[int, int, int, int]
    verdict: Verdict
    student_number: str | None = None
    distance: float | None = None
    reason: str | None = None
    #: why a face that matches no restricted student is in question, so that many such faces
    #: become one reason (see face_reasons): small | blurred | unclear | encode | unprotected | unknown
    kind: str | None = None
    view: str | None = None  # None: the photo as shown; else the frame, page or embedded image the box is in
    rotation: int = 0
    on_photo: bool = True  # the box is on the photo as shown (a safe copy hides it there)
    #: the person this face belongs to across the batch ("P3": faces with the same label are one person,
    #: see consentguard.people); None: judged on its own (not encoded, or not batched)
    person: str | None = None

    def to_json(self) -> dict:
        return {"box": list(self.box), "width": self.box[2] - self.box[0],
                "student_number": self.student_number,
                "distance": None if self.distance is None else round(self.distance, 4),
                "verdict": self.verdict, "reason": self.reason, "kind": self.kind, "view": self.view,
                "rotation": self.rotation, "on_photo": self.on_photo, "person": self.person}


@dataclass
class Decision:
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    faces: list[FaceResult] = field(default_factory=list)
    names: list[NameHit] = field(default_factory=list)
    #: ids of the review items (consentguard.review.ReviewItem) that concern this photo
    review_items: list[str] = field(default_factory=list)
    #: the people staff declared as shown (check --people), each judged: {student_number, name, verdict}
    declared: list[dict] = field(default_factory=list)
    #: the verdict of the picture alone (faces, its text, metadata, file name, declared people) and of
    #: the caption alone (``verdict`` is the worse): the page shows a caption's problem on the caption
    photo_verdict: Verdict | None = None
    caption_verdict: Verdict | None = None

    @property
    def student_numbers(self) -> list[str]:
        found = [f.student_number for f in self.faces if f.student_number]
        found += [n.student_number for n in self.names]
        found += [d["student_number"] for d in self.declared if d["verdict"] != PASS]
        return sorted(set(found))


@dataclass(frozen=True)
class Declared:
    """A student staff say is shown in the photo (``check --people``, the page's "People shown")."""

    student_number: str
    name: str


def _who(context: RosterContext, number: str) -> str:
    student = context.students.get(number)
    return f"{student.full_name} (#{number})" if student else f"#{number}"


def _box(box) -> str:
    return "[{}, {}, {}, {}]".format(*box)


#: Why a face is a review when the district has turned face recognition off.
NO_FR = "face recognition is off in this district: say who is shown (check --people)"


def judge_face(face: FaceEvidence, context: RosterContext, policy: Policy) -> FaceResult:
    """A face's verdict. A face that cannot be identified reliably (too small,
    too blurred, turned or covered) is still matched, so a clear match blocks, but it never passes.
    A face in another view of the file (a later frame, a thumbnail) is judged the same way; its
    reason says where."""
    if not policy.face_recognition:  # the district does not identify faces: staff say who is shown
        result, problem = FaceResult(face.box, REVIEW, None, None, f"{_at(face)}: {NO_FR}", "no-fr"), None
    else:
        result = _match_face(face, context, policy)
        problem = quality_problem(face, policy, context)
    if result.verdict == PASS and face.width < policy.min_face_px and not problem:
        result.reason = _small_pass(face, context, policy)
    if problem and context.at_risk:
        kind, issue = problem
        if result.verdict == PASS or (result.verdict == REVIEW and result.student_number is None):
            # not matched to anyone: that it cannot be judged at all is the reason that counts
            result = FaceResult(face.box, REVIEW, None, result.distance, f"{_at(face)} {issue}", kind)
        elif result.verdict == REVIEW:
            result.reason = f"{result.reason}; it {issue}"
    result.rotation, result.on_photo = face.rotation, face.on_photo
    if face.view is not None:
        result.view = face.view
        result.reason = result.reason and f"in {face.view}: {result.reason}"
    return result


def _small_pass(face: FaceEvidence, context: RosterContext, policy: Policy) -> str:
    """Why a face of the small-face band passed (kept in the face's own result)."""
    number, distance = face.nearest[0]
    return (f"{_at(face)} is {face.width} px wide and recognised as permitted {_who(context, number)}: "
            f"distance {distance:.2f} (a face under {policy.min_face_px} px passes within "
            f"{policy.small_recognise_distance:.2f}, nearer than anyone else by {policy.small_recognise_margin:.2f}, "
            f"with no photo-restricted student within {policy.small_review_distance:.2f})")


TURNS = {90: "turned 90° clockwise", 180: "upside down", 270: "turned 90° anticlockwise"}


def _at(face: FaceEvidence) -> str:
    """How a reason names a face: its box, and how it lies when it is not upright (a person
    looking for an upside-down face should not search the photo for an upright one)."""
    turned = f" ({TURNS[face.rotation]})" if face.rotation else ""
    return f"face at {_box(face.box)}{turned}"


def _match_face(face: FaceEvidence, context: RosterContext, policy: Policy) -> FaceResult:
    if face.nearest is None:
        if context.at_risk:
            return FaceResult(face.box, REVIEW, reason=f"{_at(face)} could not be encoded",
                              kind="encode")
        return FaceResult(face.box, PASS)
    restricted = [(n, d) for n, d in face.nearest if _photo_restricted(context, n)]
    permitted = [(n, d) for n, d in face.nearest if not _photo_restricted(context, n)]
    known = face.nearest and face.nearest[0][1] <= policy.review_distance
    if not known and context.unknown_face == REVIEW:
        return FaceResult(face.box, REVIEW, None, face.nearest[0][1] if face.nearest else None, (
            f"{_at(face)} matches no student with a portrait on file; in an opt-in "
            "district only students with a current release may be shown"), "unknown")
    if not restricted:
        return _unprotected_check(face, context, policy) or FaceResult(
            face.box, PASS, None, permitted[0][1] if permitted else None)
    number, distance = restricted[0]
    other, other_distance = permitted[0] if permitted else (None, float("inf"))
    clearly_other = other_distance + policy.margin <= distance
    nearly_other = other_distance < distance + policy.margin
    if distance <= policy.block_distance and not nearly_other:
        return FaceResult(face.box, BLOCK, number, distance, (
            f"{_at(face)} matches photo-restricted {_who(context, number)}: "
            f"distance {distance:.2f} (block at <= {policy.block_distance:.2f})"))
    if distance <= policy.block_distance:
        return FaceResult(face.box, REVIEW, number, distance, (
            f"{_at(face)} matches photo-restricted {_who(context, number)} "
            f"(distance {distance:.2f}) but nearly as well permitted {_who(context, other)} "
            f"({other_distance:.2f}): ambiguous"))
    if distance <= policy.review_distance and not clearly_other:
        return FaceResult(face.box, REVIEW, number, distance, (
            f"{_at(face)} resembles photo-restricted {_who(context, number)}: "
            f"distance {distance:.2f} (review at <= {policy.review_distance:.2f})"))
    note = (f"{_at(face)} recognised as permitted {_who(context, other)}: distance "
            f"{other_distance:.2f}" if other is not None and other_distance <= policy.review_distance else None)
    return _unprotected_check(face, context, policy) or FaceResult(face.box, PASS, None, distance, note)


def recognised_as(face: FaceEvidence, context: RosterContext, policy: Policy,
                  within: float | None = None, margin: float | None = None) -> str | None:
    """The permitted student this face clearly is, or None: nearest of all indexed students,
    within recognise_distance, and nearer than the next student by at least recognise_margin
    (``within`` and ``margin``: stricter values, for the small-face band)."""
    if not face.nearest:
        return None
    within = policy.recognise_distance if within is None else within
    margin = policy.recognise_margin if margin is None else margin
    number, distance = face.nearest[0]
    runner_up = face.nearest[1][1] if len(face.nearest) > 1 else float("inf")
    if (_photo_restricted(context, number) or distance > within or runner_up < distance + margin):
        return None
    return number


def _unprotected_check(face: FaceEvidence, context: RosterContext, policy: Policy) -> FaceResult | None:
    """Review for a face that would pass, while photo-restricted students in scope have no usable
    portrait (it may be one of them) and it is not recognised as a specific permitted student."""
    if not context.unprotected or recognised_as(face, context, policy):
        return None
    nearest = face.nearest[0][1] if face.nearest else None
    if not context.indexed:
        why = (f"cannot be matched: none of the {context.photo_restricted} photo-restricted students has a "
               "usable portrait")
    else:
        n = context.unprotected
        why = (f"is not recognised as a permitted student, and {n} photo-restricted student"
               f"{'s have' if n > 1 else ' has'} no usable portrait (it could be "
               f"{'one of them' if n > 1 else 'them'})")
    return FaceResult(face.box, REVIEW, None, nearest, f"{_at(face)} {why}", "unprotected")


def _photo_restricted(context: RosterContext, number: str) -> bool:
    student = context.students.get(number)
    return student is None or student.photo_restricted  # an unknown owner counts as restricted


def same_student_twice(results: list[FaceResult], context: RosterContext) -> list[str]:
    """Two or more flagged faces in one picture matching one student: at most one can be them.
    (The same student in two frames of an animation is no contradiction.)"""
    by_student: dict[tuple[str | None, str], list[FaceResult]] = {}
    for f in results:
        if f.student_number and f.verdict in (BLOCK, REVIEW):
            by_student.setdefault((f.view, f.student_number), []).append(f)
    reasons = []
    for (view, number), faces in by_student.items():
        if len(faces) > 1:  # each already blocks or needs review: the photo cannot pass
            where = f"in {view}: " if view else ""
            reasons.append(f"{where}{len(faces)} faces match photo-restricted {_who(context, number)}: "
                           "at most one can be them; check which")
    return reasons


def judge_name(hit: NameHit, context: RosterContext) -> str:
    where = (f" in {hit.view}" if hit.view else "") + (f" at {_box(hit.box)}" if hit.box is not None else "")
    if hit.seconds is not None:  # a video's: when
        first, last = hit.seconds
        where += f" (from {clock(first)} to {clock(last)})" if last > first else "" if hit.view else f" (at {clock(first)})"
    who = _who(context, hit.student_number)
    if hit.restriction == "photo" and hit.source.startswith("metadata"):
        what = f"says the photo shows photo-restricted {who}"
    elif hit.restriction == "photo":
        what = f"names photo-restricted {who}, who may be in the photo"
    else:
        what = f"names name-restricted {who}"
    written = f"\"{hit.text}\"" + (f" ≈ \"{hit.matched}\"" if hit.matched else "")
    return f"{hit.source}{where} {what}: {written} ({DESCRIBE[hit.form]}: {hit.strength})"


def decide(faces: list[FaceEvidence], names: list[NameHit], context: RosterContext,
           policy: Policy, image_error: str | None = None, unchecked: list[str] | None = None) -> Decision:
    """The verdict for one photo (and its caption). ``unchecked``: parts of the photo that
    could not be analysed (e.g. unreadable metadata); each is a review."""
    face_results = [judge_face(f, context, policy) for f in faces]
    return combine(faces, face_results, names, context, policy, image_error, unchecked)


def combine(faces: list[FaceEvidence], face_results: list[FaceResult], names: list[NameHit],
            context: RosterContext, policy: Policy, image_error: str | None = None,
            unchecked: list[str] | None = None, cleared: list | None = None,
            declared: list[Declared] | None = None) -> Decision:
    """One photo's verdict from its faces' verdicts (judged alone, or as a person across a batch),
    its name hits and the parts that could not be analysed. ``cleared``: staff decisions
    (review.FaceDecision, ``cleared``) that the photo's review-level problems were checked by eye:
    the unchecked parts and review-level name hits then count as checked, named with who and when;
    they never touch a face or a block. ``declared``: the people staff say are shown
    (:func:`judge_declared`)."""
    face_results, said, declared_json = judge_declared(declared or [], face_results, context, policy)
    reasons = face_reasons(faces, face_results, context, policy)
    reasons += same_student_twice(face_results, context)
    checked = f"checked by eye by {cleared[-1].decided_by} on {cleared[-1].decided_at}" if cleared else None
    verdicts = [f.verdict for f in face_results]
    caption = []  # the caption's own verdicts: the page shows the caption apart from the photo
    for hit in names:
        if checked and hit.strength == REVIEW:
            reasons.append(f"{judge_name(hit, context)}; {checked}")
        else:
            reasons.append(judge_name(hit, context))
            (caption if hit.source == "caption" else verdicts).append(hit.strength)
    for part in unchecked or []:
        reasons.append(f"{part}; {checked}" if checked else part)
        verdicts += [] if checked else [REVIEW]
    for reason, verdict in said:
        reasons.append(reason)
        verdicts.append(verdict)
    if image_error:
        reasons.insert(0, image_error)
        verdicts.append(ERROR)
    return Decision(verdict=worst(verdicts + caption), reasons=reasons, faces=face_results, names=names,
                    declared=declared_json, photo_verdict=worst(verdicts), caption_verdict=worst(caption))


def judge_declared(declared: list[Declared], face_results: list[FaceResult], context: RosterContext,
                   policy: Policy) -> tuple[list[FaceResult], list[tuple[str, Verdict]], list[dict]]:
    """The people staff declared as shown, judged like recognised faces: a photo-restricted one
    blocks. Declaring never clears a face matched to a student (a declared permitted student whose
    face matches a restricted one stays a review or block, as the face says). More faces in the
    picture as shown than people declared is a review. With face recognition off, the faces (none
    identified) are covered when there are no more of them than declared permitted people: they
    pass as those people. Returns the face results (covered ones passed), (reason, verdict) pairs
    for the photo, and the JSON of each declared person. Faces in other views (frames of a clip, a
    thumbnail) are not counted: in a clip, declaring can only block."""
    if not declared:
        return face_results, [], []
    said: list[tuple[str, Verdict]] = []
    entries, permitted = [], 0
    for person in declared:
        if _photo_restricted(context, person.student_number):
            said.append((f"declared as shown by staff: photo-restricted {_who(context, person.student_number)}", BLOCK))
            entries.append({"student_number": person.student_number, "name": person.name, "verdict": BLOCK.value})
        else:
            permitted += 1
            entries.append({"student_number": person.student_number, "name": person.name, "verdict": PASS.value})
    shown = [k for k, r in enumerate(face_results) if r.view is None]
    if len(shown) > len(declared):
        n = len(declared)
        said.append((f"{len(shown)} faces in the photo but {n} {'person' if n == 1 else 'people'} declared as "
                     "shown: say who the others are, or look at the photo", REVIEW))
    elif not policy.face_recognition and len(shown) <= permitted:
        names = ", ".join(e["name"] for e in entries if e["verdict"] == PASS.value)
        face_results = list(face_results)
        for k in shown:
            if face_results[k].kind == "no-fr":
                face_results[k] = replace(face_results[k], verdict=PASS,
                                          reason=f"face at {_box(face_results[k].box)}: one of the people declared as shown "
                                                 f"({names})")
    return face_results, said, entries


def photo_problems(names: list[NameHit], context: RosterContext, unchecked: list[str] | None) -> list[str]:
    """The photo-level reasons a person can clear by eye (``cleared``): the parts that could not be
    analysed and the review-level name hits. One home for what a photo-level review item covers."""
    return list(unchecked or []) + [judge_name(h, context) for h in names if h.strength == REVIEW]


# --- staff decisions about a face (review.FaceDecision in FaceEvidence.decided) ---------------

def _where(face: FaceEvidence) -> str:
    return f"in {face.view}: " if face.view is not None else ""


def _on(decision) -> str:
    return f"{decision.decided_by} on {decision.decided_at}"


def judge_decided(face: FaceEvidence, context: RosterContext, policy: Policy) -> FaceResult:
    """:func:`judge_face` with the staff decisions in force about this face applied. ``is X``
    makes the face X (blocks if X is photo-restricted, whichever decision came later: fail closed);
    ``not X`` judges it as if X were not in its nearest list; ``cleared`` (a person checked the face by
    eye: no photo-restricted student) passes a face in review, never a block, and only for the students
    that were in question when the person looked (``FaceDecision.in_question``): a face in review for
    a student restricted or matched since is in review again. Every reason says who decided and when."""
    confirmation = _confirmation(face, context)
    if confirmation:
        return _confirmed_as(face, confirmation, context)
    ruled = [d for d in face.decided if d.box is not None and d.decision == "not" and d.student_number]
    result = judge_face(without(face, ruled_out(face)), context, policy)
    if ruled:
        note = "; ".join(f"{_who(context, d.student_number)} ruled out by {_on(d)}" for d in ruled)
        result.reason = f"{result.reason}; {note}" if result.reason else f"{_where(face)}{_at(face)}: {note}"
    checked = [d for d in face.decided if d.box is not None and d.decision == "cleared"]
    if checked and result.verdict == REVIEW and result.student_number is not None and not any(
            result.student_number in (d.in_question or ()) for d in checked):
        # the look was for other students: one restricted or matched since was never compared with it
        look = checked[-1]
        result.reason = (f"{result.reason}; {_who(context, result.student_number)} was not in question when "
                         f"{look.decided_by} checked it by eye on {look.decided_at}: check it again")
        return result
    if checked and result.verdict == REVIEW:  # a person looked: no photo-restricted student (never lifts a block)
        result = FaceResult(face.box, PASS, None, result.distance,
                            f"{_where(face)}{_at(face)} checked by eye by {_on(checked[-1])}: not a photo-restricted "
                            f"student (on its own: {result.reason})", view=face.view, rotation=face.rotation,
                            on_photo=face.on_photo)
    return result


def without(face: FaceEvidence, numbers: set[str]) -> FaceEvidence:
    """The face as if the students ``numbers`` were not in its nearest list (staff ruled them out)."""
    if not numbers or face.nearest is None:
        return face
    return replace(face, nearest=[(n, d) for n, d in face.nearest if n not in numbers])


def ruled_out(face: FaceEvidence) -> set[str]:
    return {d.student_number for d in face.decided if d.box is not None and d.decision == "not" and d.student_number}


def _confirmation(face: FaceEvidence, context: RosterContext):
    """The ``is`` decision in force about this face (the latest; a photo-restricted student's
    before any other, should staff have contradicted themselves: fail closed), or None."""
    confirmed = [d for d in face.decided if d.box is not None and d.decision == "is" and d.student_number]
    restricted = [d for d in confirmed if _photo_restricted(context, d.student_number)]
    return (restricted or confirmed or [None])[-1]


def confirmed_as(face: FaceEvidence, context: RosterContext) -> str | None:
    """The student staff confirmed this face is, or None."""
    confirmation = _confirmation(face, context)
    return confirmation.student_number if confirmation else None


def _confirmed_as(face: FaceEvidence, decision, context: RosterContext) -> FaceResult:
    number = decision.student_number
    distance = dict(face.nearest or []).get(number)
    restricted = _photo_restricted(context, number)
    reason = (f"{_where(face)}{_at(face)} confirmed as {'photo-restricted' if restricted else 'permitted'} "
              f"{_who(context, number)} by {_on(decision)}")
    return FaceResult(face.box, BLOCK if restricted else PASS, number if restricted else None, distance, reason,
                      view=face.view, rotation=face.rotation, on_photo=face.on_photo)


# --- a person across a batch (consentguard.people groups the faces) ---------------------------

#: why a face is in question without matching a restricted student closely: what knowing who
#: the person is (a permitted student) settles
SETTLED_BY_IDENTITY = ("small", "blurred", "unclear", "unprotected", "unknown")


def judge_person(faces: list[FaceEvidence], results: list[FaceResult], photos: list[str],
                 context: RosterContext, policy: Policy) -> list[FaceResult]:
    """The verdicts of the faces of one person (grouped across the pictures of a batch), from
    each face's own verdict (``results``, :func:`judge_decided`). ``photos``: the file name each
    face is in, for the reasons.

    * A member that blocks (it matches a photo-restricted student X, or staff confirmed it is X)
      makes the person X: every member blocks, naming the face that identified them.
    * Otherwise, a person recognised as one permitted student Y by their clear faces (or
      confirmed as Y by staff), with no clear face within block_distance of a restricted student,
      clears the members in question only because they resemble someone, cannot be identified on
      their own (small, blurred, unclear) or might be an unprotected student. A member within
      block_distance of a restricted student never passes.
    * Otherwise every member keeps its own verdict (a person in question: one review item).
    A member staff decided about keeps that decision."""
    if len(faces) < 2:
        return list(results)
    blocked = [i for i, r in enumerate(results)
               if r.verdict == BLOCK and r.student_number and _photo_restricted(context, r.student_number)]
    if blocked:
        source = min(blocked, key=lambda i: (confirmed_as(faces[i], context) is None, results[i].distance or 0.0))
        return [_as_restricted(i, source, faces, results, photos, context) for i in range(len(faces))]
    source, number = _permitted_identity(faces, results, context, policy)
    if source is None:
        return list(results)
    return [_as_permitted(i, source, number, faces, results, photos, context, policy) for i in range(len(faces))]


def _named(face: FaceEvidence, photo: str) -> str:
    where = f"{face.view} of {photo}" if face.view is not None else photo
    return f"the {_at(face)} in {where}"


def _gap(a: FaceEvidence, b: FaceEvidence) -> str:
    if a.encoding is None or b.encoding is None:
        return ""
    return f" (faces {float(np.linalg.norm(a.encoding - b.encoding)):.2f} apart)"


def _as_restricted(i, source, faces, results, photos, context) -> FaceResult:
    own, face, number = results[i], faces[i], results[source].student_number
    if i == source or own.verdict == BLOCK or confirmed_as(face, context) or number in ruled_out(face):
        return own
    confirmation = _confirmation(faces[source], context)
    how = (f"which {confirmation.decided_by} confirmed as photo-restricted {_who(context, number)} on "
           f"{confirmation.decided_at}" if confirmation else
           f"which matches photo-restricted {_who(context, number)}: distance {results[source].distance:.2f}")
    reason = (f"{_where(face)}{_at(face)} is the same person{_gap(face, faces[source])} as "
              f"{_named(faces[source], photos[source])}, {how}")
    return replace(own, verdict=BLOCK, student_number=number, distance=dict(face.nearest or []).get(number),
                   reason=reason, kind=None)


def _permitted_identity(faces, results, context, policy) -> tuple[int | None, str | None]:
    """(the member that identifies the person, the permitted student they are), or (None, None)
    when the clear members do not agree on one permitted student, or one of them is within
    block_distance of a photo-restricted student."""
    named: dict[str, list[int]] = {}
    for i, face in enumerate(faces):
        if confirmed_as(face, context):
            named.setdefault(confirmed_as(face, context), []).insert(0, i)  # a staff decision names them first
            continue
        if quality_problem(face, policy):
            continue
        own = without(face, ruled_out(face))
        if _restricted_distance(own, context) <= policy.block_distance:
            return None, None
        if (number := recognised_as(own, context, policy)) is not None:
            named.setdefault(number, []).append(i)
    if len(named) != 1:
        return None, None
    (number, members), = named.items()
    if _photo_restricted(context, number):
        return None, None
    if not confirmed_as(faces[members[0]], context):
        members.sort(key=lambda i: dict(faces[i].nearest)[number])
    return members[0], number


def _restricted_distance(face: FaceEvidence, context: RosterContext) -> float:
    return min((d for n, d in face.nearest or [] if _photo_restricted(context, n)), default=float("inf"))


def _as_permitted(i, source, number, faces, results, photos, context, policy) -> FaceResult:
    own, face = results[i], faces[i]
    if i == source or own.verdict != REVIEW or confirmed_as(face, context) or number in ruled_out(face):
        return own
    settled = own.kind in SETTLED_BY_IDENTITY or (
        own.student_number is not None and own.distance is not None and own.distance > policy.block_distance)
    near = _restricted_distance(without(face, ruled_out(face)), context)
    if not settled or near <= policy.block_distance:
        return own
    src = faces[source]
    if near <= policy.review_distance and not _nearer_the_person(i, faces, near, policy):
        restricted = next(n for n, d in face.nearest if d == near and _photo_restricted(context, n))
        own.reason = (f"{own.reason}; not cleared as permitted {_who(context, number)}: it is nearer photo-restricted "
                      f"{_who(context, restricted)} ({near:.2f}) than this person's clear faces by less than "
                      f"{policy.group_margin:.2f}, so it may be {_who(context, restricted)} seen unclearly")
        return own
    needed = policy.small_recognise_distance if face.width < policy.min_face_px else policy.recognise_distance
    if context.unprotected and not _gap_to_person(i, faces, policy) < needed:
        own.reason = (f"{own.reason}; not cleared as permitted {_who(context, number)}: a photo-restricted student "
                      f"in scope has no usable portrait, and this face is not within {needed:.2f} of this "
                      "person's clear faces (as near as recognising it alone needs), so it may be them")
        return own
    confirmation = _confirmation(src, context)
    how = (f"which {confirmation.decided_by} confirmed as permitted {_who(context, number)} on "
           f"{confirmation.decided_at}" if confirmation else
           f"recognised as permitted {_who(context, number)} (distance {dict(src.nearest)[number]:.2f})")
    reason = (f"{_where(face)}{_at(face)} is the same person{_gap(face, src)} as {_named(src, photos[source])}, "
              f"{how}; on its own: {own.reason}")
    return replace(own, verdict=PASS, student_number=None, reason=reason, kind=None)


def _nearer_the_person(i: int, faces: list[FaceEvidence], restricted: float, policy: Policy) -> bool:
    """Whether face ``i`` is nearer the person's other clear faces than the photo-restricted
    student it resembles (at ``restricted``) by group_margin: only then does who the person is settle
    it. (A restricted student's small face can fall within group_distance of a permitted look-alike's
    clear face while it is barely farther from their own portrait: 27 of 373 such LFW faces.)"""
    return _gap_to_person(i, faces, policy) + policy.group_margin <= restricted


def _gap_to_person(i: int, faces: list[FaceEvidence], policy: Policy) -> float:
    """Distance from face ``i`` to the nearest clear face of its person (inf: none, or not encoded).
    While a photo-restricted student has no portrait there is nothing to compare with, so a face is
    cleared through its person only within recognise_distance: as near as recognising it needs."""
    own = faces[i].encoding
    gaps = [float(np.linalg.norm(own - f.encoding)) for k, f in enumerate(faces)
            if own is not None and k != i and f.encoding is not None and quality_problem(f, policy) is None]
    return min(gaps, default=float("inf"))


def _span(values) -> str:
    """"34-53" (or "34" when all are the same, rounded)."""
    low, high = (f"{v:.0f}" for v in (min(values), max(values)))
    return low if low == high else f"{low}-{high}"


def face_reasons(faces: list[FaceEvidence], results: list[FaceResult], context: RosterContext,
                 policy: Policy) -> list[str]:
    """The reasons of the faces that did not pass, with repeated ones summarised.

    A crowd photo would otherwise list hundreds of "too small" faces (an unreadable report and
    CSV cells past a spreadsheet's limit). Faces in question without matching anyone (too small,
    too blurred, turned away or covered, not encoded, not recognised while a restricted student
    has no portrait, unknown in an opt-in district: ``FaceResult.kind``) are counted into one
    reason per kind, placed where the first of them was; a single one keeps its own reason. Faces
    matched to a student keep theirs (who, how close). Every face keeps its own reason in ``faces``."""
    groups: dict[tuple[str, str | None], list[tuple[FaceEvidence, FaceResult]]] = {}
    order: list[tuple[str, str | None] | FaceResult] = []
    for face, result in zip(faces, results):
        if not result.reason or result.verdict == PASS:
            continue
        if result.kind is None or result.student_number is not None:
            order.append(result)
            continue
        key = (result.kind, result.view)
        if key not in groups:
            order.append(key)
        groups.setdefault(key, []).append((face, result))
    reasons = []
    for item in order:
        if isinstance(item, FaceResult):
            reasons.append(item.reason)
        elif len(groups[item]) == 1:
            reasons.append(groups[item][0][1].reason)
        else:
            summary = _summary(item[0], [f for f, _ in groups[item]], context, policy)
            reasons.append(f"in {item[1]}: {summary}" if item[1] else summary)
    return reasons


def _summary(kind: str, faces: list[FaceEvidence], context: RosterContext, policy: Policy) -> str:
    n = len(faces)
    if kind == "no-fr":
        return f"{n} faces: {NO_FR}"
    if kind == "unprotected":
        m = context.unprotected
        return (f"{n} faces are not recognised as permitted students, and {m} photo-restricted student"
                f"{'s have' if m > 1 else ' has'} no usable portrait (any of these faces could be "
                f"{'one of them' if m > 1 else 'them'}): check them by eye, or add the missing portraits")
    if kind == "unknown":
        return (f"{n} faces match no student with a portrait on file; in an opt-in district only students "
                "with a current release may be shown")
    if kind == "small":
        return (f"{n} faces are too small to identify ({_span([f.width for f in faces])} px wide, minimum "
                f"{policy.min_face_px} px): check the original, full-size photo")
    if kind == "blurred":
        return (f"{n} faces are too blurred to identify (sharpness {_span([f.sharpness for f in faces])}, "
                f"minimum {policy.min_sharpness:.0f}): check the photo by eye")
    if kind == "unclear":
        return (f"{n} faces are turned away, partly covered or unclear, so they cannot be identified "
                "reliably: check the photo by eye")
    return f"{n} faces could not be encoded, so they cannot be identified: check the photo by eye"
