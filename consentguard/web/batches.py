"""The photos of one drop on the page, decided together (issue #12 parts 2 and 3).

The page sends each photo of a drop with the drop's batch id. The server keeps, per signed-in
session and batch, each photo's evidence (face encodings and close-ups: biometric) and its latest
result document, **in memory only**, so that every new photo can be decided with the earlier ones
(:meth:`consentguard.runners.check.Checker.decide`): a restricted student seen clearly in one photo is then
blocked in the others, and an earlier photo whose verdict changes is sent back as an update.

Bounds (memory, and how long biometric data lives): at most ``MAX_PHOTOS`` photos per batch (the
next one is refused, never checked alone in silence), ``MAX_PER_SESSION`` batches per session and
``MAX_BATCHES`` in all (the least recently used is forgotten first), and a batch unused for
``IDLE_SECONDS`` is forgotten. Nothing of it is written to disk except what the audit trail and the
review queue keep anyway.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from consentguard.people import PhotoEvidence
from consentguard.review import ReviewItem
from consentguard.store import review as stored_review
from consentguard.store.connection import database_file

BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: photos per batch: the page checks at most this many per drop
MAX_PHOTOS = 100
#: batches kept per session and in all (a few drops open in tabs; many staff at once)
MAX_PER_SESSION, MAX_BATCHES = 3, 32
#: a batch nobody added to for this long is forgotten (its encodings with it)
IDLE_SECONDS = 2 * 3600


class BatchFull(Exception):
    """The batch has MAX_PHOTOS photos: the message says what to do."""


@dataclass
class Photo:
    """One checked photo of a batch."""

    check_id: int            # the audit row of its first check: names the photo's card on the page
    name: str
    evidence: PhotoEvidence  # biometric: memory only
    doc: dict                # the latest result document (decided with the batch)
    plain: bytes | None      # preview without boxes (boxes are drawn for each new verdict)
    rows: list[int] = field(default_factory=list)  # its audit rows, oldest first (the last: in force)

    @property
    def audit_id(self) -> int:
        return self.rows[-1] if self.rows else self.check_id


@dataclass
class Batch:
    """The photos of one drop, decided one at a time (``lock``) in the order they were checked."""

    session: str
    id: str
    scope: tuple[str | None, str | None]  # channel and school: one drop is checked for one
    photos: list[Photo] = field(default_factory=list)
    reserved: int = 0                    # photos being checked right now
    revision: int = 0                    # times decided: the page keeps the newest answer per card
    used: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: review item ids this batch created in the queue (an item that grew since is replaced)
    created: set[str] = field(default_factory=set)
    items: list[ReviewItem] = field(default_factory=list, repr=False)

    def photo(self, check_id: int) -> Photo | None:
        return next((p for p in self.photos if p.check_id == check_id), None)


class BatchStore:
    """Every batch of this server process, bounded (see the module's docstring)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._batches: dict[tuple[str, str], Batch] = {}

    def reserve(self, session: str, batch_id: str, scope: tuple[str | None, str | None]) -> Batch:
        """The batch (new if unknown) with one more photo reserved. Raises :class:`BatchFull` when
        it has MAX_PHOTOS, ValueError when the photo is for another channel or school."""
        with self._lock:
            now = self._clock()
            self._forget_idle(now)
            batch = self._batches.get((session, batch_id))
            if batch is None:
                batch = Batch(session, batch_id, scope, used=now)
                self._bound(session)  # room for it: the batches there were before it
                self._batches[(session, batch_id)] = batch
            if batch.scope != scope:
                raise ValueError("the photos of one drop are checked for one channel and school: "
                                 "drop them again to check them for another")
            if len(batch.photos) + batch.reserved >= MAX_PHOTOS:
                raise BatchFull(f"this drop already has {MAX_PHOTOS} photos checked together; not checked: "
                                f"drop at most {MAX_PHOTOS} photos at once (or use 'consentguard scan' "
                                "for a whole event folder)")
            batch.reserved += 1
            batch.used = now
            return batch

    def release(self, batch: Batch) -> None:
        """The reserved photo is done (added to the batch or failed)."""
        with self._lock:
            batch.reserved -= 1
            batch.used = self._clock()

    def find(self, session: str, batch_id: str) -> Batch | None:
        with self._lock:
            self._forget_idle(self._clock())
            return self._batches.get((session, batch_id))

    def superseded(self, session: str, audit_id: int) -> Photo | None:
        """The photo of this session whose card's earlier audit row ``audit_id`` is no longer its
        latest verdict (it was decided again with the rest of its drop), or None."""
        with self._lock:
            for (owner, _), batch in self._batches.items():
                if owner == session:
                    for photo in batch.photos:
                        if audit_id != photo.audit_id and audit_id in photo.rows:
                            return photo
        return None

    def __len__(self) -> int:
        return len(self._batches)

    def _forget_idle(self, now: float) -> None:
        for key, batch in list(self._batches.items()):
            if not batch.reserved and now - batch.used > IDLE_SECONDS:
                del self._batches[key]

    def _bound(self, session: str) -> None:
        """Make room for one more batch: forget the least recently used ones past the per-session
        and overall limits (never one with a photo being checked)."""
        for mine, limit in ((lambda b: b.session == session, MAX_PER_SESSION), (lambda b: True, MAX_BATCHES)):
            kept = sorted((b for b in self._batches.values() if mine(b)), key=lambda b: b.used)
            for batch in kept[:max(0, len(kept) - limit + 1)]:
                if not batch.reserved:
                    del self._batches[(batch.session, batch.id)]


# -- deciding a batch ----------------------------------------------------------------------

#: what a person reads on a card: a change in any of these is sent to the page
SHOWN = ("verdict", "reasons", "faces")


@dataclass
class Change:
    """An earlier photo whose result changed when the batch was decided again."""

    photo: Photo
    before: dict  # its previous result document


def decide(batch: Batch, db, policy) -> list[Change]:
    """Decide every photo of ``batch`` together (the caller holds ``batch.lock``) with a Checker of
    the roster in force (no models: the faces were matched in the workers; photos matched against an
    older roster run are matched again). Each photo's document gets the batch's decision; the photos
    whose verdict, reasons or faces changed are returned. ``batch.items``: the batch's review items."""
    from consentguard.runners.check import decision_json

    checker = _judge(db, policy, batch.scope)
    rematch = any(p.doc.get("roster_sync_id") != checker.sync_id for p in batch.photos)
    decisions, batch.items = checker.decide([p.evidence for p in batch.photos], rematch=rematch)
    batch.revision += 1
    changes = []
    for photo, decision in zip(batch.photos, decisions):
        before = photo.doc
        photo.doc = {**before, **decision_json(decision), "roster_sync_id": checker.sync_id}
        if any(photo.doc.get(k) != before.get(k) for k in SHOWN):
            changes.append(Change(photo, before))
    return changes


def recaption(batch: Batch, db, policy, caption: str | None) -> list[Change]:
    """The drop's caption changed and nothing else: each photo's caption hits are replaced by the new
    caption's (the faces, the text in the picture, its metadata and file name are kept from its
    evidence: no photo is sent or read again), then the drop is decided again (:func:`decide`).
    Every photo's document gets the new caption and its scrubbed form (the caller holds ``batch.lock``
    and records each photo's new audit row: the check now stands with this caption)."""
    from consentguard.match.names import scrub

    checker = _judge(db, policy, batch.scope)
    hits = checker.names.caption(caption)
    for photo in batch.photos:
        photo.evidence.names = [h for h in photo.evidence.names if h.source != "caption"] + list(hits)
    changes = decide(batch, db, policy)
    for photo in batch.photos:
        photo.doc = {**photo.doc, "caption": caption,
                     "scrubbed_caption": scrub(caption, hits) if caption is not None else None}
    return changes


#: per server thread: the Checker of each scope
_judges = threading.local()


def _judge(db, policy, scope: tuple[str | None, str | None]):
    """A Checker (roster and index; no models) for this scope, kept per thread and rebuilt when a
    roster sync has landed or the day has changed (``Checker.current``): loading the index for
    every photo of a drop would cost more than deciding it. A kept Checker reads through ``db``,
    the request's connection (the one it was built with closed when its request ended)."""
    from consentguard.runners.check import Checker

    path = database_file(db)
    cache = _judges.__dict__.setdefault("checkers", {})
    key = (path, id(policy), scope)
    checker = cache.get(key)
    if checker is not None:
        checker.db = db
    checker = Checker(db, policy, interface="web", record=False, channel=scope[0], school=scope[1]) \
        if checker is None else checker.current()
    cache[key] = checker
    return checker


def new_reasons(before: dict, after: dict) -> list[str]:
    """The reasons of ``after`` that ``before`` did not give: why a card changed."""
    return [r for r in after["reasons"] if r not in before["reasons"]]


def safe_copy_stale(before: dict | None, after: dict) -> bool:
    """Whether ``after`` needs a safe copy that ``before``'s (if any was made) is not: it is not a
    pass and hides other areas (a photo that passed had no safe copy at all)."""
    from consentguard.output.redact import areas_to_hide

    if after["verdict"] == "pass" or not (after.get("image") or {}).get("width"):
        return False
    return before is None or before["verdict"] == "pass" or areas_to_hide(before) != areas_to_hide(after)


def save_items(batch: Batch, db) -> None:
    """Store the batch's review items so the Review tab lists them. An item this batch created
    that the batch no longer has (a person's item grew into a new one as photos arrived) is
    deleted if still open and undecided: the queue shows the batch as it is decided now."""
    from consentguard import review

    ids = [item.id for item in batch.items]
    known = stored_review.stored_item_ids(db, ids)
    batch.created |= set(ids) - known
    stale = sorted(batch.created - set(ids))
    for item_id in stale:
        stored_review.drop_untouched_item(db, item_id)
    batch.created -= set(stale)
    if batch.items:
        review.save_items(db, batch.items)


def items_json(batch: Batch, db) -> list[dict]:
    """The batch's review items as the page shows them: as stored (status and decisions
    included), close-ups as data: URLs."""
    from consentguard.review import item_json, load_item

    return [item_json(db, load_item(db, item.id) or item, closeups=True) for item in batch.items]
