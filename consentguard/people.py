"""People across a batch: group the faces of one person over the photos checked together,
judge each person once, and list the decisions left to staff (issue #12).

Stage: match (per face, :mod:`consentguard.runners.check`) → **people** (across the batch) →
decide (the rules, :mod:`consentguard.decide`) → review items (:mod:`consentguard.review`).

API (the contract the scan, the CLI and the page use):

* :class:`PhotoEvidence`: what the decision needs about one photo, kept after its check
  (picklable, so a worker process can return it; serialisable for the scan cache).
* :func:`decide_batch`: the decisions of every photo of a batch, and the review items.
* :func:`group_faces`: which faces of a batch are one person (a pure function of encodings).

This module only groups and builds items; every verdict rule lives in :mod:`consentguard.decide`
(:func:`~consentguard.decide.judge_decided` per face, :func:`~consentguard.decide.judge_person`
per person, :func:`~consentguard.decide.combine` per photo).
"""

from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import dataclass, field, replace
from pathlib import PurePath

import numpy as np

from consentguard.decide import (
    REVIEW,
    Decision,
    FaceEvidence,
    FaceResult,
    RosterContext,
    combine,
    judge_decided,
    judge_person,
    photo_problems,
    quality_problem,
)
from consentguard.match.names import NameHit
from consentguard.policy import Policy
from consentguard.review import FaceDecision, ReviewItem


@dataclass
class PhotoEvidence:
    """Everything :func:`consentguard.decide.decide` needs about one photo."""

    path: str
    sha256: str | None
    faces: list[FaceEvidence] = field(default_factory=list)
    names: list[NameHit] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    error: str | None = None
    #: a video's facts and tracks (runners.check.check_video): which faces are one track, and where
    #: each track is in every sampled frame; None for a photo
    video: dict | None = None
    #: the people staff declared as shown (decide.Declared): judged with the photo
    declared: list = field(default_factory=list)


#: rows of the distance matrix computed at once when linking a large batch (memory, not speed)
CHUNK = 1024


def group_faces(pictures: list, encodings: list[np.ndarray | None], clear: list[bool],
                policy: Policy) -> list[int | None]:
    """A person number for every face (None: not encoded, so judged on its own).

    Clear faces are grouped by complete linkage: two groups merge only while *every* pair of their
    faces is within ``group_distance`` and no two of them are in the same picture (one person is
    never twice in one picture). Complete linkage keeps look-alikes apart and does not chain
    strangers (A near B near C with A far from C). A face that cannot be identified on its own
    (``clear`` False) joins the person with its nearest clear face when that face is within
    ``group_distance`` and every other person is farther by ``group_margin``; otherwise it is a
    person of its own. It never links two persons."""
    n = len(encodings)
    person: list[int | None] = [None] * n
    sure = [i for i in range(n) if encodings[i] is not None and clear[i]]
    groups = _complete_linkage(sure, pictures, encodings, policy.group_distance)
    for number, members in enumerate(groups):
        for i in members:
            person[i] = number
    unsure = [i for i in range(n) if encodings[i] is not None and not clear[i]]
    for i, number in zip(unsure, _attach(unsure, groups, pictures, encodings, policy)):
        if number is None:
            number = len(groups)
            groups.append([i])
        person[i] = number
    return person


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0.0))


def _complete_linkage(faces: list[int], pictures: list, encodings, limit: float) -> list[list[int]]:
    """Groups of ``faces`` (complete linkage stopped at ``limit``), in order of their first face.

    Two groups are within ``limit`` only when every pair of their faces is, so only the pairs within
    it matter: they are found in chunks (no full distance matrix for a large batch), and groups are
    merged closest first from a heap, each merge adding up how many of the cross pairs are close
    and the farthest of them. Two faces of one picture are never a close pair, so their groups never
    merge. Cost grows with the close pairs, not with the square of the faces."""
    if not faces:
        return []
    enc = np.array([encodings[i] for i in faces], dtype=np.float64)
    codes: dict = {}
    picture = np.array([codes.setdefault(pictures[i], len(codes)) for i in faces])
    close: dict[int, dict[int, list]] = {k: {} for k in range(len(faces))}  # group -> group -> [pairs, farthest]
    heap = []
    for start in range(0, len(faces), CHUNK):
        d = _distances(enc[start:start + CHUNK], enc)
        for a, b in zip(*np.nonzero(d <= limit)):
            a = int(a) + start
            b = int(b)
            if a < b and picture[a] != picture[b]:
                close[a][b] = close[b][a] = [1, float(d[a - start, b])]
                heap.append((float(d[a - start, b]), a, b))
    heapq.heapify(heap)
    members = {k: [k] for k in range(len(faces))}
    while heap:
        distance, a, b = heapq.heappop(heap)
        if a not in members or b not in members or close[a].get(b) != [len(members[a]) * len(members[b]), distance]:
            continue  # a stale entry: a group merged since, or its pairs changed
        members[a] += members.pop(b)
        for other, (pairs, farthest) in close.pop(b).items():
            if other == a:
                continue
            del close[other][b]
            mine = close[a].setdefault(other, [0, 0.0])
            mine[0], mine[1] = mine[0] + pairs, max(mine[1], farthest)
            close[other][a] = mine
        del close[a][b]
        for other, (pairs, farthest) in close[a].items():
            if pairs == len(members[a]) * len(members[other]):
                heapq.heappush(heap, (farthest, min(a, other), max(a, other)))
    return sorted(([faces[k] for k in sorted(m)] for m in members.values()), key=min)


def _attach(unsure: list[int], groups: list[list[int]], pictures: list, encodings, policy: Policy) -> list[int | None]:
    """For each unsure face, the group it unambiguously belongs to, or None: its nearest clear face
    within group_distance, every other group farther by group_margin, no face of the group in its picture."""
    if not unsure or not groups:
        return [None] * len(unsure)
    codes: dict = {}
    picture = np.array([codes.setdefault(p, len(codes)) for p in pictures])
    d = _distances(np.array([encodings[i] for i in unsure], dtype=np.float64),
                   np.array([encodings[i] for g in groups for i in g], dtype=np.float64))
    nearest = np.empty((len(unsure), len(groups)))
    start = 0
    for g, members in enumerate(groups):
        nearest[:, g] = d[:, start:start + len(members)].min(axis=1)
        nearest[np.isin(picture[unsure], picture[members]), g] = np.inf  # someone else in that picture
        start += len(members)
    chosen = []
    for row in nearest:
        best = int(np.argmin(row))
        runner_up = np.partition(row, 1)[1] if len(row) > 1 else np.inf
        ok = row[best] <= policy.group_distance and runner_up >= row[best] + policy.group_margin
        chosen.append(best if ok else None)
    return chosen


def decide_batch(photos: list[PhotoEvidence], context: RosterContext, policy: Policy,
                 decisions: dict[str, list[FaceDecision]] | None = None
                 ) -> tuple[list[Decision], list[ReviewItem]]:
    """One decision per photo (same order) and the review items of the batch.

    Each face is judged on its own with the staff decisions about it (``decisions`` by photo
    sha256, and those already in ``FaceEvidence.decided``); faces of one person across the
    batch (:func:`group_faces`) are then judged together (:func:`decide.judge_person`). Faces of
    a person still in question become one "person" item; a photo's own problems (parts not
    analysed, review-level names) one "photo" item, which a ``cleared`` decision settles."""
    decisions = decisions or {}
    flat: list[tuple[int, int]] = [(p, f) for p, photo in enumerate(photos) for f in range(len(photo.faces))]
    faces = [_with_decisions(photos[p].faces[f], decisions.get(photos[p].sha256 or "", [])) for p, f in flat]
    results = [judge_decided(face, context, policy) for face in faces]
    pictures = [(photos[p].path, face.view) for (p, _), face in zip(flat, faces)]
    person = group_faces(pictures, [face.encoding for face in faces],
                         [quality_problem(face, policy) is None for face in faces], policy)
    members: dict[int, list[int]] = {}
    for k, number in enumerate(person):
        if number is not None:
            members.setdefault(number, []).append(k)
    labels = {number: f"P{n + 1}" for n, number in enumerate(sorted(members, key=lambda m: members[m][0]))}
    for number, ks in members.items():
        judged = judge_person([faces[k] for k in ks], [results[k] for k in ks],
                              [_name(photos[flat[k][0]].path) for k in ks], context, policy)
        for k, result in zip(ks, judged):
            results[k] = replace(result, person=labels[number])
    by_photo: list[list[int]] = [[] for _ in photos]
    for k, (p, _) in enumerate(flat):
        by_photo[p].append(k)
    out = []
    for p, photo in enumerate(photos):
        cleared = _cleared(photo, context, decisions)
        out.append(combine([faces[k] for k in by_photo[p]], [results[k] for k in by_photo[p]], photo.names,
                           context, policy, photo.error, photo.unchecked, cleared, photo.declared))
    items = _person_items(members, flat, faces, results, photos, context)
    items += _photo_items(photos, context, decisions)
    # a decision only matters where it can change a verdict: not on photos that are blocked (or could
    # not be read) anyway; their faces in question are hidden in the safe copy all the same
    items = [(item, ks) for item, ks in items
             if any(out[p].verdict == REVIEW for p in ({flat[k][0] for k in ks} if item.kind != "photo" else ks))]
    for item, ks in items:
        for p in sorted({flat[k][0] for k in ks}) if item.kind != "photo" else ks:
            out[p].review_items.append(item.id)
    return out, [item for item, _ in items]


def _with_decisions(face: FaceEvidence, decisions: list[FaceDecision]) -> FaceEvidence:
    """The face with every decision in force about it (its box and view), once each."""
    known = {d.id for d in face.decided}
    extra = [d for d in decisions if d.box is not None and tuple(d.box) == tuple(face.box)
             and d.view == face.view and d.id not in known]
    return replace(face, decided=[*face.decided, *extra]) if extra else face


def _name(path: str) -> str:
    return PurePath(path).name or path


def _item_id(kind: str, keys) -> str:
    return hashlib.sha256(json.dumps([kind, *sorted(keys)]).encode()).hexdigest()[:16]


def _person_items(members, flat, faces, results, photos, context) -> list[tuple[ReviewItem, list[int]]]:
    """One item per person with faces in review in two or more photos; the faces in review of people
    seen in one photo only (not grouped, not encoded) are one item per photo: a person decides them
    with one look at that photo, so there are never more items than photos in review for faces."""
    people = [ks for _, ks in sorted(members.items(), key=lambda m: m[1][0])]
    grouped = {k for ks in people for k in ks}
    people += [[k] for k in range(len(faces)) if k not in grouped]
    people.sort(key=min)
    items, alone = [], {}
    for ks in people:
        open_ = [k for k in ks if results[k].verdict == REVIEW]
        if len({flat[k][0] for k in open_}) > 1:
            items.append((_person_item(open_, flat, faces, results, photos, context), open_))
        elif open_:  # seen in one photo only: one item per photo for all such faces (one look at the photo)
            alone.setdefault(flat[open_[0]][0], []).extend(open_)
    for p, ks in alone.items():
        item = _person_item(sorted(ks), flat, faces, results, photos, context)
        if len(ks) > 1:
            item.kind = "faces"
            item.summary = "; ".join([f"{len(ks)} faces in {_name(photos[p].path)}", *item.summary.split("; ")[1:]])
            item.id = _item_id("faces", [json.dumps([f["sha256"] or f["photo"], f["box"], f["view"]]) for f in item.faces])
        items.append((item, sorted(ks)))
    items.sort(key=lambda pair: min(pair[1]))
    return items


def _person_item(ks, flat, faces, results, photos, context) -> ReviewItem:
    docs, reasons, students = [], [], {}
    for k in ks:
        photo, face, result = photos[flat[k][0]], faces[k], results[k]
        docs.append({"photo": photo.path, "sha256": photo.sha256, "box": list(face.box), "view": face.view,
                     "width": face.width, "distance": None if result.distance is None else round(result.distance, 4),
                     "verdict": result.verdict})
        reasons.append(f"{_name(photo.path)}: {result.reason}")
        if result.student_number:
            best = students.get(result.student_number)
            if best is None or (result.distance or 0) < best:
                students[result.student_number] = result.distance or 0.0
    in_question = [{"student_number": n, "name": _full_name(context, n), "distance": round(d, 4)}
                   for n, d in sorted(students.items(), key=lambda s: s[1])]
    photo_paths = list(dict.fromkeys(photos[flat[k][0]].path for k in ks))
    closeups = [faces[k].closeup for k in ks]
    summary = _summary(len(photo_paths), in_question, [results[k] for k in ks], sum(c is not None for c in closeups))
    keys = [json.dumps([photos[flat[k][0]].sha256 or photos[flat[k][0]].path, list(faces[k].box), faces[k].view])
            for k in ks]
    label = results[ks[0]].person
    return ReviewItem(_item_id("person", keys), "person", summary, in_question, photo_paths, docs,
                      reasons if label is None else [f"person {label}: {r}" for r in reasons],
                      [faces[k].encoding for k in ks], closeups)


def _full_name(context: RosterContext, number: str) -> str | None:
    student = context.students.get(number)
    return student.full_name if student else None


WHY = {"small": "too small to identify", "blurred": "too blurred to identify", "unclear": "turned away or unclear",
       "unprotected": "not recognised while a restricted student has no portrait",
       "unknown": "matches no student with a portrait", "encode": "could not be encoded",
       "no-fr": "face recognition is off: say who is shown"}


def _summary(n_photos: int, students: list[dict], results: list[FaceResult], closeups: int) -> str:
    """"appears in 14 photos; resembles Marcus Ellery (#100104) at 0.58 (closest); close-ups 3"."""
    parts = [f"appears in {n_photos} photo{'s' if n_photos != 1 else ''}"]
    if students:
        first = students[0]
        who = f"{first['name']} (#{first['student_number']})" if first["name"] else f"#{first['student_number']}"
        more = f" and {len(students) - 1} more" if len(students) > 1 else ""
        parts.append(f"resembles photo-restricted {who} at {first['distance']:.2f} (closest){more}")
    kinds = sorted({r.kind for r in results if r.kind and not r.student_number})
    parts += [WHY.get(kind, kind) for kind in kinds]
    parts.append(f"close-ups {closeups}")
    return "; ".join(parts)


def _photo_item_id(photo: PhotoEvidence, problems: list[str]) -> str:
    return _item_id("photo", [photo.sha256 or photo.path, *problems])


def _cleared(photo: PhotoEvidence, context: RosterContext, decisions) -> list[FaceDecision]:
    """The ``cleared`` decisions about this photo that settle its problems as they are now: one made
    on its photo item clears only that item's problems (a problem new since, such as a name hit after
    a roster change, changes the item's id and is reviewed again); one made without an item, all."""
    current = _photo_item_id(photo, photo_problems(photo.names, context, photo.unchecked))
    return [d for d in decisions.get(photo.sha256 or "", [])
            if d.decision == "cleared" and d.box is None and d.item_id in (None, current)]


def _photo_items(photos, context, decisions) -> list[tuple[ReviewItem, list[int]]]:
    """One item per photo with problems of its own that a person can clear by eye."""
    items = []
    for p, photo in enumerate(photos):
        problems = photo_problems(photo.names, context, photo.unchecked)
        if not problems or _cleared(photo, context, decisions):
            continue
        summary = f"{_name(photo.path)}: " + "; ".join(problems)
        item = ReviewItem(_photo_item_id(photo, problems), "photo", summary,
                          [{"student_number": h.student_number, "name": _full_name(context, h.student_number),
                            "distance": None} for h in photo.names if h.strength == REVIEW],
                          [photo.path], [], problems)
        items.append((item, [p]))
    return items
