"""People across a batch: group the faces of one person over the photos checked together,
judge each person once, and list the decisions left to staff (issue #12).

Stage: match (per face, :mod:`consentguard.check`) → **people** (across the batch) →
decide (the rules, :mod:`consentguard.decide`) → review items (:mod:`consentguard.review`).

API (the contract the scan, the CLI and the page use):

* :class:`PhotoEvidence`: what the decision needs about one photo, kept after its check
  (picklable, so a worker process can return it; serialisable for the scan cache).
* :func:`decide_batch`: the decisions of every photo of a batch, and the review items.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .decide import Decision, FaceEvidence, RosterContext, decide
from .names import NameHit
from .policy import Policy
from .review import FaceDecision, ReviewItem


@dataclass
class PhotoEvidence:
    """Everything :func:`consentguard.decide.decide` needs about one photo."""

    path: str
    sha256: str | None
    faces: list[FaceEvidence] = field(default_factory=list)
    names: list[NameHit] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    error: str | None = None


def decide_batch(photos: list[PhotoEvidence], context: RosterContext, policy: Policy,
                 decisions: dict[str, list[FaceDecision]] | None = None
                 ) -> tuple[list[Decision], list[ReviewItem]]:
    """One decision per photo (same order) and the review items of the batch.

    Placeholder until grouping lands: each photo is decided on its own and no items are listed."""
    return [decide(p.faces, p.names, context, policy, p.error, p.unchecked) for p in photos], []
