"""The policy: every tunable number, declared once with its default, its help and its limits.

Code, CLI help, ``consentguard config``, the generated docs (docs/settings.md) and tests read the
same :data:`SETTINGS` list. A value in force comes from the command line, else from the settings
saved in the database (``consentguard config set``), else from the default:
:func:`consentguard.store.settings.policy_in_force`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields, replace

from consentguard.errors import ConsentGuardError

TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


class SettingError(ConsentGuardError, ValueError):
    """A value a setting cannot take; the message names the setting and the problem."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str
    #: Allowed range (inclusive) for a number: beyond it a saved value would switch a protection off
    #: or ask what the code cannot do. None: any value of the right type.
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    #: The stage that reads it (docs group the settings by stage).
    stage: str = "faces"
    #: Which way is stricter ("higher" or "lower"; None: neither weakens a protection). A *saved*
    #: value, which every later check of the district uses, may only be as strict as the default or
    #: stricter (:meth:`check_saved`); a command-line option may still change it for one run.
    stricter: str | None = None

    def parse(self, text: str) -> object:
        """``text`` (as typed after ``config set``) as this setting's type, checked against its limits."""
        kind = type(self.default)
        text = str(text).strip()
        if kind is bool:
            if text.lower() not in TRUE + FALSE:
                raise SettingError(f"{self.name}: {text!r} is not true or false")
            return self.check(text.lower() in TRUE)
        try:
            value = kind(text) if kind is not int else int(text, 10)
        except ValueError:
            want = {int: "a whole number", float: "a number"}.get(kind, "text")
            raise SettingError(f"{self.name}: {text!r} is not {want}") from None
        return self.check(value)

    def check(self, value: object) -> object:
        """``value`` if this setting can take it, else :class:`SettingError` saying why."""
        kind = type(self.default)
        number = isinstance(value, numbers.Real) and not isinstance(value, bool)  # numpy's too (calibration scripts)
        if kind is bool and not isinstance(value, bool):
            raise SettingError(f"{self.name}: {value!r} is not true or false")
        if kind is int and not (number and float(value).is_integer()):
            raise SettingError(f"{self.name}: {value!r} is not a whole number")
        if kind is float and not (number and not math.isnan(value)):
            raise SettingError(f"{self.name}: {value!r} is not a number")
        if kind is str and not isinstance(value, str):
            raise SettingError(f"{self.name}: {value!r} is not text")
        if self.choices is not None and value not in self.choices:
            raise SettingError(f"{self.name}: {value!r} is not one of {', '.join(self.choices)}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise SettingError(f"{self.name}: {value} is outside the allowed {_number(self.low)}-{_number(self.high)}")
        return kind(value) if number else value

    def check_saved(self, value: object) -> object:
        """:meth:`check`, and for a setting that protects (``stricter``), not looser than the default:
        a saved value applies to every check, scan and the page until someone unsets it."""
        value = self.check(value)
        looser = {"higher": lambda: value < self.default, "lower": lambda: value > self.default}.get(self.stricter)
        if looser is not None and looser():
            raise SettingError(f"{self.name}: {value} would check less strictly than the default {self.default}; "
                               f"a saved value may only be {'at least' if self.stricter == 'higher' else 'at most'} "
                               "the default (a command-line option changes it for one run)")
        return value

    @property
    def limits(self) -> str:
        """The allowed values, as the docs show them."""
        if self.choices is not None:
            return " or ".join(self.choices)
        if type(self.default) is bool:
            return "true or false"
        saved = {"higher": f"; saved: at least {_number(self.default)}",
                 "lower": f"; saved: at most {_number(self.default)}"}.get(self.stricter, "")
        return f"{_number(self.low)}-{_number(self.high)}{saved}"


def _number(x) -> str:
    return "any" if x is None else f"{x:g}"


SETTINGS: tuple[Setting, ...] = (
    Setting("block_distance", 0.50,
            "A face this close (Euclidean distance of dlib encodings) to a photo-restricted "
            "student's portrait blocks the photo. Lower = fewer false blocks, more reviews.",
            low=0.01, high=1.2),
    Setting("review_distance", 0.63,
            "A face closer than this, but not within block_distance, sends the photo to review. "
            "Higher = more restricted faces caught, more photos to review. Calibrated again with every "
            "student indexed (held-out LFW adults: 99.2% of restricted faces flagged, 5.5% of permitted "
            "students' faces to review; models/README.md); the model mixes up children more easily.",
            low=0.01, high=1.2, stricter="higher"),
    Setting("margin", 0.05,
            "With permitted students in the face index: a face nearer a permitted student than the "
            "restricted one by this much is taken as the permitted student; nearer by less is ambiguous (review).",
            low=0.0, high=0.5, stricter="higher"),
    Setting("recognise_distance", 0.48,
            "While a photo-restricted student in scope has no usable portrait, a face passes only if it is "
            "recognised as a specific permitted student: nearest to them, this close, and nearer than anyone "
            "else by recognise_margin. Held out on LFW (229 people, everyone indexed): 0.48 recognises 68% of "
            "permitted faces and takes 0.44% of unprotected students' faces for someone else; 0.45 gives 56% "
            "and 0.31%; 0.50 gives 73% and 0.50%.",
            low=0.01, high=1.2, stricter="lower"),
    Setting("recognise_margin", 0.10,
            "How much nearer the recognised permitted student must be than the next student (see recognise_distance).",
            low=0.0, high=0.5, stricter="higher"),
    Setting("min_face_px", 60,
            "Faces narrower than this (pixels) cannot be identified reliably: they are still matched "
            "(a clear match blocks) but never pass: review while any student (of --school, if given) "
            "is photo-restricted. It cannot be made smaller: narrower faces are judged by the small-face band's "
            "stricter thresholds (small_face_floor), never as clear faces.",
            low=60, high=1000, stricter="higher"),
    Setting("small_face_floor", 32,
            "Faces at least this wide but narrower than min_face_px are in the small-face band: they pass "
            "only when recognised as a permitted student under the band's stricter thresholds "
            "(small_recognise_distance, small_recognise_margin, small_review_distance); narrower faces never "
            "pass. Set it to min_face_px to turn the band off. Held out on LFW faces shrunk to 32-48 px: every "
            "restricted face still flagged, 20-52% of permitted faces pass instead of none (models/README.md).",
            low=1, high=1000, stricter="higher"),
    Setting("small_recognise_distance", 0.45,
            "Small-face band (see small_face_floor): a face passes only if its nearest indexed student is "
            "permitted and this close (stricter than recognise_distance).",
            low=0.01, high=1.2, stricter="lower"),
    Setting("small_recognise_margin", 0.10,
            "Small-face band: the recognised permitted student must be nearer than the next indexed student "
            "by at least this much.",
            low=0.0, high=0.5, stricter="higher"),
    Setting("small_review_distance", 0.55,
            "Small-face band: no photo-restricted student may be within this distance (besides being "
            "farther than the recognised student by small_recognise_margin).",
            low=0.01, high=1.2, stricter="higher"),
    Setting("min_sharpness", 20.0,
            "Faces blurrier than this (focus measure; sharp faces score 300-1000) are treated like "
            "faces too small to identify: matched, but never passed. It cannot be made smaller: blurrier faces "
            "cannot be identified, and a saved value below it would pass them.",
            low=20.0, high=10000.0, stricter="higher"),
    Setting("detect_mode", "default",
            "default: finds every face of 64 px and up (about 0.8 s per 12 MP photo per core) and text "
            "of 28 px; thorough: faces down to 32 px (about 1.6 s) and text of 16 px (OCR 3.2 s instead of 1.0 s).",
            choices=("default", "thorough"), stage="inspect"),
    Setting("ocr", True,
            "Read the text inside photos (certificates, name tags, slides, jerseys) and check it for "
            "names. Costs about 1.0 s per 12 MP photo per core (default mode; 3.2 s thorough).",
            stage="inspect"),
    Setting("face_recognition", True,
            "Match faces with students' portraits. off (for districts and states that do not allow face "
            "recognition): no portrait is encoded or stored, existing encodings and the faces kept from "
            "checked photos are deleted at once, faces are still found (for reviews and safe copies) but "
            "never identified: a photo with faces is a review unless staff declare who is shown "
            "(check --people); names are checked as always. Turned on again, portraits are encoded at the "
            "next sync (until then photos with faces are reviews).",
            stage="faces"),
    Setting("encode_jitters", 1,
            "Random re-crops averaged per face encoding (dlib num_jitters). 1 = fastest.",
            low=1, high=100),
    Setting("group_distance", 0.50,
            "Clear faces in different pictures of a batch (scan, multi-photo drop) are one person when every "
            "pair of them is this close (complete linkage: look-alikes and chains are not merged). "
            "Calibrated by scripts/calibrate_groups.py on the tuning half of LFW (228 people): 0.50 links 80% of "
            "same-person pairs and 0.013% of different-person pairs, and puts no face with a stranger's when all "
            "1,034 faces are one batch (0.55: 1.06%). Checked on the measuring half: from 0.53 the closest "
            "look-alikes of all LFW (Kim Jong-Il, Wu Yi, 0.36 apart) become one person.",
            low=0.01, high=1.2, stricter="lower"),
    Setting("group_margin", 0.10,
            "A face that cannot be identified on its own (small, blurred, unclear) joins a person only when "
            "it is within group_distance of one of their clear faces and nearer them than anyone else by this much.",
            low=0.0, high=0.5, stage="batch", stricter="higher"),
    Setting("detect_face_px", 64,
            "The default detect_mode's promise: the narrowest face (box width in photo pixels) searched for "
            "in every photo; the photo is shrunk so such a face is about 16 px at the detector. Lower = "
            "smaller faces found, slower. It cannot be raised above 64: faces the docs promise would be missed.",
            low=16, high=64, stage="inspect", stricter="lower"),
    Setting("thorough_face_px", 32,
            "The thorough detect_mode's promise (and of the second search of a wide shot in the default "
            "mode): the narrowest face searched for. At most detect_face_px.",
            low=16, high=64, stage="inspect", stricter="lower"),
    Setting("ocr_side", 1600,
            "Text in photos (default detect_mode): the photo is shrunk so its long side is at most this many "
            "pixels for OCR (scripts/bench_ocr.py, 12 MP scene, one core: 1.0 s, text from 28 px). Larger = "
            "smaller text read, slower; it cannot be made smaller than 1600.",
            low=1600, high=6000, stage="inspect", stricter="higher"),
    Setting("ocr_side_thorough", 2600,
            "As ocr_side, in the thorough detect_mode (3.2 s, text from 16 px).",
            low=1600, high=6000, stage="inspect", stricter="higher"),
    Setting("first_only_max_shared", 3,
            "A first name alone (\"Maria\", not an ordinary word) is a review hit only if at most this many "
            "students of the roster have it: then it points at a handful of children. Higher = more reviews.",
            low=1, high=20, stage="names", stricter="higher"),
    Setting("redact_grow", 0.35,
            "A safe copy (redact, the page's download) hides each face or name box grown by this share of its "
            "width and height on every side (hair, ears, the rest of a name tag). It cannot be made smaller.",
            low=0.35, high=1.0, stage="redact", stricter="higher"),
    Setting("redact_video_every", 2,
            "A video's safe copy searches every this many frames for faces the check did not judge (each hidden "
            "unless it lies on a passed face's track); the frames between get the boxes of the searched frames on "
            "both sides. 1 = every frame (slower, scripts/bench_redact_video.py).",
            low=1, high=2, stage="redact", stricter="lower"),
    Setting("max_drop_students", 0.10,
            "A sync is refused (the roster in force stays) when more than this share of the students in "
            "force are missing from the export: a truncated file or the wrong school's. --accept-drop "
            "imports it anyway; a district mapping file's [guards] wins over this saved value.",
            low=0.0, high=0.5, stage="sync", stricter="lower"),
    Setting("max_drop_restricted", 0.10,
            "A sync is refused when more than this share of the restricted students disappear or lose "
            "their restriction, or of their restrictions are lifted.",
            low=0.0, high=0.5, stage="sync", stricter="lower"),
    Setting("min_drop_count", 3,
            "Drops of fewer students than this never refuse a sync (tiny rosters).",
            low=0, high=50, stage="sync", stricter="lower"),
    Setting("video_sample_seconds", 0.25,
            "Videos: a frame is checked every this many seconds (the first frame at or after each multiple), "
            "so a face on screen for twice as long is seen in at least two frames. At most 0.25: a student "
            "visible for half a second is always seen twice. Smaller = slower.",
            low=0.02, high=0.25, stage="inspect", stricter="lower"),
    Setting("video_encode_seconds", 1.0,
            "Videos: a face followed from frame to frame (one track) is encoded and judged when its track "
            "starts, when it no longer looks like the face last encoded, when it is clearly larger or sharper, "
            "and at least every this many seconds; the frames between only extend when the face is seen. "
            "Smaller = slower, never weaker: 0.25 judges every sampled frame.",
            low=0.25, high=2.0, stage="inspect", stricter="lower"),
    Setting("video_max_seconds", 120,
            "Videos: a clip longer than this (seconds) is refused with an error naming it. Checking takes "
            "2-4 s per second of 1080p video on one core (scripts/bench_video.py), and grouping one person's "
            "faces across the frames grows faster than the clip's length (2 min with 10 faces on screen: "
            "17 s more), so longer clips wait for the tracker.",
            low=1, high=7200, stage="inspect"),
    Setting("video_max_side", 4096,
            "Videos: a clip whose picture is wider or taller than this (pixels) is refused with an error naming it.",
            low=320, high=8192, stage="inspect"),
    Setting("video_max_upload_mb", 500,
            "Videos on the page: the largest clip it accepts (MB); a larger one is refused with a message "
            "saying so. The clip is kept in a private temporary folder only while it is checked (and its safe "
            "copy made).",
            low=1, high=8192, stage="inspect"),
    Setting("video_ocr_seconds", 1.0,
            "Videos: the text inside the frames (titles, lower thirds, jerseys, name tags) is read (OCR) in a "
            "sampled frame at least every this many seconds, and at once (at most twice as often) in a frame "
            "that changed a lot since the last one read (a new title); a frame that looks the same as the last "
            "one read is not read again (a camera panning is no change). About 0.6 s per 1080p frame read on one "
            "core: 0.3-0.5 s per second of video, 7-14% of the face stage's time (scripts/bench_video_text.py). "
            "Smaller = slower; only with ocr on.",
            low=0.25, high=5.0, stage="inspect", stricter="lower"),
)

DEFAULTS = {s.name: s.default for s in SETTINGS}

#: What indexing photo-restricted students alone (sync --index restricted) costs, held out at the
#: defaults; measured by scripts/calibrate.py --at 0.50,0.63,0.05 (models/README.md).
RESTRICTED_INDEX_COST = ("40% of permitted students' faces go to review with only photo-restricted "
                         "students indexed, against 6% with every student indexed (held-out adults, a quarter "
                         "of the roster photo-restricted, one portrait each)")


def setting(name: str) -> Setting:
    """The declared setting called ``name``; :class:`SettingError` listing the names if there is none."""
    for s in SETTINGS:
        if s.name == name:
            return s
    raise SettingError(f"{name}: no such setting (one of {', '.join(s.name for s in SETTINGS)})")


def setting_help(name: str) -> str:
    """A setting's help with its default, for CLI options."""
    s = setting(name)
    return f"{s.help} Default: {s.default}."


@dataclass(frozen=True)
class Policy:
    block_distance: float = DEFAULTS["block_distance"]
    review_distance: float = DEFAULTS["review_distance"]
    margin: float = DEFAULTS["margin"]
    recognise_distance: float = DEFAULTS["recognise_distance"]
    recognise_margin: float = DEFAULTS["recognise_margin"]
    min_face_px: int = DEFAULTS["min_face_px"]
    small_face_floor: int = DEFAULTS["small_face_floor"]
    small_recognise_distance: float = DEFAULTS["small_recognise_distance"]
    small_recognise_margin: float = DEFAULTS["small_recognise_margin"]
    small_review_distance: float = DEFAULTS["small_review_distance"]
    min_sharpness: float = DEFAULTS["min_sharpness"]
    detect_mode: str = DEFAULTS["detect_mode"]
    ocr: bool = DEFAULTS["ocr"]
    face_recognition: bool = DEFAULTS["face_recognition"]
    encode_jitters: int = DEFAULTS["encode_jitters"]
    group_distance: float = DEFAULTS["group_distance"]
    group_margin: float = DEFAULTS["group_margin"]
    detect_face_px: int = DEFAULTS["detect_face_px"]
    thorough_face_px: int = DEFAULTS["thorough_face_px"]
    ocr_side: int = DEFAULTS["ocr_side"]
    ocr_side_thorough: int = DEFAULTS["ocr_side_thorough"]
    first_only_max_shared: int = DEFAULTS["first_only_max_shared"]
    redact_grow: float = DEFAULTS["redact_grow"]
    redact_video_every: int = DEFAULTS["redact_video_every"]
    max_drop_students: float = DEFAULTS["max_drop_students"]
    max_drop_restricted: float = DEFAULTS["max_drop_restricted"]
    min_drop_count: int = DEFAULTS["min_drop_count"]
    video_sample_seconds: float = DEFAULTS["video_sample_seconds"]
    video_encode_seconds: float = DEFAULTS["video_encode_seconds"]
    video_max_seconds: int = DEFAULTS["video_max_seconds"]
    video_max_side: int = DEFAULTS["video_max_side"]
    video_max_upload_mb: int = DEFAULTS["video_max_upload_mb"]
    video_ocr_seconds: float = DEFAULTS["video_ocr_seconds"]

    def __post_init__(self) -> None:
        if not 0 < self.block_distance <= self.review_distance:
            raise ValueError("block_distance must be > 0 and <= review_distance")
        if not (self.group_distance > 0 and self.group_margin >= 0):
            raise ValueError("group_distance must be > 0 and group_margin >= 0")
        if self.detect_mode not in ("default", "thorough"):
            raise ValueError("detect_mode must be 'default' or 'thorough'")
        for s in SETTINGS:
            s.check(getattr(self, s.name))
        if self.thorough_face_px > self.detect_face_px:
            raise SettingError("thorough_face_px must be at most detect_face_px")

    def with_(self, **changes) -> "Policy":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def saved(cls, values: dict) -> Policy:
        """The policy from saved settings (name -> value) over the defaults. A saved value this
        version cannot take (limits changed, a combination refused) is an error naming it: never
        silently replaced by the default."""
        try:
            return cls(**{name: setting(name).check_saved(value) for name, value in values.items()})
        except ValueError as exc:
            raise SettingError(f"saved settings: {exc} (change it with 'consentguard config set' "
                               "or 'consentguard config unset')") from exc

    @property
    def face_promises(self) -> dict[str, int]:
        """Detection mode -> the narrowest face it searches for (inspect.faces)."""
        return {"default": self.detect_face_px, "thorough": self.thorough_face_px}

    @property
    def ocr_sides(self) -> dict[str, int]:
        """Detection mode -> the long side text is read at (inspect.ocr)."""
        return {"default": self.ocr_side, "thorough": self.ocr_side_thorough}


assert [f.name for f in fields(Policy)] == [s.name for s in SETTINGS]
