"""The policy: every tunable number, declared once with its default and its help.

Code, CLI help, README and tests read the same :data:`SETTINGS` list.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("block_distance", 0.50,
            "A face this close (Euclidean distance of dlib encodings) to a photo-restricted "
            "student's portrait blocks the photo. Lower = fewer false blocks, more reviews."),
    Setting("review_distance", 0.63,
            "A face closer than this, but not within block_distance, sends the photo to review. "
            "Higher = more restricted faces caught, more photos to review. Calibrated again with every "
            "student indexed (held-out LFW adults: 99.2% of restricted faces flagged, 5.5% of permitted "
            "students' faces to review; models/README.md); the model mixes up children more easily."),
    Setting("margin", 0.05,
            "With permitted students in the face index: a face nearer a permitted student than the "
            "restricted one by this much is taken as the permitted student; nearer by less is ambiguous (review)."),
    Setting("recognise_distance", 0.48,
            "While a photo-restricted student in scope has no usable portrait, a face passes only if it is "
            "recognised as a specific permitted student: nearest to them, this close, and nearer than anyone "
            "else by recognise_margin. Held out on LFW (229 people, everyone indexed): 0.48 recognises 68% of "
            "permitted faces and takes 0.44% of unprotected students' faces for someone else; 0.45 gives 56% "
            "and 0.31%; 0.50 gives 73% and 0.50%."),
    Setting("recognise_margin", 0.10,
            "How much nearer the recognised permitted student must be than the next student (see recognise_distance)."),
    Setting("min_face_px", 60,
            "Faces narrower than this (pixels) cannot be identified reliably: they are still matched "
            "(a clear match blocks) but never pass: review while any student (of --school, if given) "
            "is photo-restricted."),
    Setting("small_face_floor", 32,
            "Faces at least this wide but narrower than min_face_px are in the small-face band: they pass "
            "only when recognised as a permitted student under the band's stricter thresholds "
            "(small_recognise_distance, small_recognise_margin, small_review_distance); narrower faces never "
            "pass. Set it to min_face_px to turn the band off. Held out on LFW faces shrunk to 32-48 px: every "
            "restricted face still flagged, 9-24% of permitted faces pass instead of none (models/README.md)."),
    Setting("small_recognise_distance", 0.45,
            "Small-face band (see small_face_floor): a face passes only if its nearest indexed student is "
            "permitted and this close (stricter than recognise_distance)."),
    Setting("small_recognise_margin", 0.10,
            "Small-face band: the recognised permitted student must be nearer than the next indexed student "
            "by at least this much."),
    Setting("small_review_distance", 0.65,
            "Small-face band: no photo-restricted student may be within this distance (further than "
            "review_distance: a small face's encoding drifts from the portrait)."),
    Setting("min_sharpness", 20.0,
            "Faces blurrier than this (focus measure; sharp faces score 300-1000) are treated like "
            "faces too small to identify: matched, but never passed."),
    Setting("detect_mode", "default",
            "default: finds every face of 64 px and up (about 0.8 s per 12 MP photo per core) and text "
            "of 28 px; thorough: faces down to 32 px (about 1.6 s) and text of 16 px (OCR 3.2 s instead of 1.0 s)."),
    Setting("ocr", True,
            "Read the text inside photos (certificates, name tags, slides, jerseys) and check it for "
            "names. Costs about 1.0 s per 12 MP photo per core (default mode; 3.2 s thorough)."),
    Setting("encode_jitters", 1,
            "Random re-crops averaged per face encoding (dlib num_jitters). 1 = fastest."),
    Setting("group_distance", 0.50,
            "Clear faces in different pictures of a batch (scan, multi-photo drop) are one person when every "
            "pair of them is this close (complete linkage: look-alikes and chains are not merged). "
            "Calibrated by scripts/calibrate_groups.py on the tuning half of LFW (228 people): 0.50 links 80% of "
            "same-person pairs and 0.013% of different-person pairs, and puts no face with a stranger's when all "
            "1,034 faces are one batch (0.55: 1.06%). Checked on the measuring half: from 0.53 the closest "
            "look-alikes of all LFW (Kim Jong-Il, Wu Yi, 0.36 apart) become one person."),
    Setting("group_margin", 0.10,
            "A face that cannot be identified on its own (small, blurred, unclear) joins a person only when "
            "it is within group_distance of one of their clear faces and nearer them than anyone else by this much."),
)

DEFAULTS = {s.name: s.default for s in SETTINGS}

#: What indexing photo-restricted students alone (sync --index restricted) costs, held out at the
#: defaults; measured by scripts/calibrate.py --at 0.50,0.63,0.05 (models/README.md).
RESTRICTED_INDEX_COST = ("40% of permitted students' faces go to review with only photo-restricted "
                         "students indexed, against 6% with every student indexed (held-out adults, a quarter "
                         "of the roster photo-restricted, one portrait each)")


def setting_help(name: str) -> str:
    """A setting's help with its default, for CLI options."""
    s = next(s for s in SETTINGS if s.name == name)
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
    encode_jitters: int = DEFAULTS["encode_jitters"]
    group_distance: float = DEFAULTS["group_distance"]
    group_margin: float = DEFAULTS["group_margin"]

    def __post_init__(self) -> None:
        if not 0 < self.block_distance <= self.review_distance:
            raise ValueError("block_distance must be > 0 and <= review_distance")
        if not (self.group_distance > 0 and self.group_margin >= 0):
            raise ValueError("group_distance must be > 0 and group_margin >= 0")
        if self.detect_mode not in ("default", "thorough"):
            raise ValueError("detect_mode must be 'default' or 'thorough'")

    def with_(self, **changes) -> "Policy":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


assert [f.name for f in fields(Policy)] == [s.name for s in SETTINGS]
