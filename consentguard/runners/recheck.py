"""When consent changes, find what was already published (issue #15).

Stage: **runners** (after a sync). Every check is in the audit trail with the photo's hash, path,
caption, verdict and the roster run it was judged against. A re-check takes the checks that let
something out (a pass, or a review released by an override), works out for each which students are
restricted *now* but were not when it was checked (restricted since, a release that ended since, or
a restricted student whose first usable portrait came later, so the check could not recognise them),
and checks again only those that have such a student: the photo re-read where it still is (or found
by its content under ``search`` folders), the caption from the stored text. A result is listed only
when it shows or names one of those students, or when it cannot be re-checked (the file is missing
or changed): nothing clear is ever listed, nothing unknown is ever dropped.

Publications are marked with :func:`mark_posted` (``consentguard posted``), audit events like the check.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import sqlite_utils

from consentguard.decide import BLOCK, PASS, REVIEW, Declared, _who, judge_name, worst
from consentguard.errors import ConsentGuardError, ImageError
from consentguard.inspect.video import sha256_file
from consentguard.output.report import copy_atomic, write_atomic
from consentguard.people import PhotoEvidence
from consentguard.roster.consent import CHANNELS, restricted
from consentguard.roster.sync import consents_of, current_snapshots
from consentguard.store import audit
from consentguard.store import posts as stored
from consentguard.store.connection import now, os_user

#: What a re-check finds about an earlier check.
AFFECTED, MISSING, CHANGED = "affected", "file missing", "file changed"


class PostError(ConsentGuardError):
    """A post that cannot be marked (one line naming the file or check)."""


@dataclass
class NewRestriction:
    student_number: str
    name: str
    scope: str       # photo | name
    why: str         # restricted since the check, release ended, portrait added

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Finding:
    """One earlier check a re-check lists: what it was, where it was posted, who is newly restricted,
    and what the re-check found (``result``: the new check's document, None when it could not be re-read)."""

    status: str
    check: dict
    posted: list[dict]
    released_by: tuple[str, str] | None
    new: list[NewRestriction]
    verdict: str
    because: list[str]
    path: str | None = None
    result: dict | None = None
    kept: str | None = None
    #: marked "taken down" (id, at, by, note) after its newest post: listed, but nothing left to do
    taken_down: dict | None = None

    @property
    def posted_at(self) -> str:
        """When it was published (the newest post), else when it was checked: the report's order."""
        return max([p.get("on") or p["marked_at"] for p in self.posted] or [self.check["checked_at"]])

    def to_json(self) -> dict:
        doc = json.loads(self.check["result"] or "{}")
        return {"status": self.status, "path": self.path or doc.get("path"), "verdict": self.verdict,
                "because": self.because, "caption": _caption(doc),
                "earlier": {"check_id": self.check["id"], "checked_at": self.check["checked_at"],
                            "verdict": self.check["verdict"], "interface": self.check["interface"],
                            "sha256": self.check["sha256"], "roster_sync_id": self.check["sync_id"],
                            "released_by": None if self.released_by is None else
                            {"at": self.released_by[0], "by": self.released_by[1]}},
                "posted": self.posted, "newly_restricted": [n.to_json() for n in self.new],
                "result": self.result, "kept_copy": self.kept, "taken_down": self.taken_down}


@dataclass
class RecheckReport:
    findings: list[Finding] = field(default_factory=list)
    looked_at: int = 0        # earlier checks that let something out
    rechecked: int = 0        # of them, re-checked (a newly restricted student could be in them)
    quick: int = 0            # of them, cleared by re-encoding the faces found then (no new student near)
    problems: list[str] = field(default_factory=list)

    @property
    def open(self) -> list[Finding]:
        """Findings someone still has to act on (not marked taken down since their newest post)."""
        return [f for f in self.findings if f.taken_down is None]

    @property
    def takedowns(self) -> list[Finding]:
        return [f for f in self.open if f.status == AFFECTED]

    def summary(self) -> str:
        posted = sum(1 for f in self.takedowns if f.posted)
        missing = sum(1 for f in self.open if f.status != AFFECTED)
        done = len(self.findings) - len(self.open)
        return (f"re-check: {self.looked_at} earlier check(s) let a photo or caption out; {self.rechecked} could show "
                f"or name a newly restricted student and were checked again; {len(self.takedowns)} now show or name "
                f"one ({posted} marked as posted: take them down); {missing} could not be re-checked "
                "(file missing or changed: check them by eye)"
                + (f"; {done} already marked as taken down" if done else ""))

    def to_json(self) -> dict:
        return {"results": [f.to_json() for f in self.findings], "summary": self.summary(),
                "looked_at": self.looked_at, "rechecked": self.rechecked, "quick": self.quick,
                "take_down": sum(1 for f in self.takedowns if f.posted), "problems": self.problems}


# -- marking what was posted -----------------------------------------------------------------

def mark_posted(db: sqlite_utils.Database, path: str | Path, channel: str, on: str | None = None,
                where: str | None = None, by: str | None = None) -> int:
    """Record that the photo at ``path`` was published on ``channel`` (``on``: the day, default today;
    ``where``: a URL or place). Its latest check judged for that channel (or for every channel) must
    have let it out (a pass, or a released review): a check for another channel never judged this one.
    The audit event refers to that check and keeps the file's full path (a re-check reads it there)."""
    on = _post_day(channel, on)
    path = Path(path)
    try:
        sha = sha256_file(path)
    except ImageError as exc:
        raise PostError(str(exc)) from exc
    check = _releasing_check(db, sha, channel, str(path), f"consentguard check {path}")
    return _record_post(db, check, channel, on, where, str(path.resolve()), path.name, by or os_user(), "cli")


def mark_posted_check(db: sqlite_utils.Database, check_id: int, channel: str, on: str | None = None,
                      where: str | None = None, by: str | None = None, kept: str | None = None,
                      interface: str = "web") -> int:
    """:func:`mark_posted` for a photo checked on the page, by its check's id (the page keeps no file):
    the same rules, applied to the latest check of the same content for ``channel`` (a drop decided
    again, or the photo checked again since, is judged by its newest check). ``kept``: where the
    server stored the posted photo (``serve --keep-posted``), so a re-check can read it; None: only
    the caption can be checked again."""
    on = _post_day(channel, on)
    row = stored.check_row(db, check_id)
    if row is None or row["sha256"] is None:
        raise PostError(f"check #{check_id} does not exist or checked nothing readable: not marked as posted")
    sha, name = row["sha256"], row["file_name"]
    check = _releasing_check(db, sha, channel, f"{name} (check #{check_id})", None)
    return _record_post(db, check, channel, on, where, kept, name, by or os_user(), interface)


def _post_day(channel: str, on: str | None) -> str:
    if channel not in CHANNELS:
        raise PostError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
    if on is None:
        return date.today().isoformat()
    try:
        return date.fromisoformat(on).isoformat()
    except ValueError as exc:
        raise PostError(f"{on!r} is not a date (YYYY-MM-DD)") from exc


def _releasing_check(db, sha: str, channel: str, label: str, how: str | None) -> dict:
    """The latest check of this content judged for ``channel`` (or every channel); it must have let the
    photo out (a pass, or a released review), or the post is refused with one line naming ``label``
    (and ``how`` to check it, a command)."""
    check = stored.latest_check_of(db, sha, channel)
    if check is None:
        other = stored.latest_check_of(db, sha)
        if other is not None:  # judged for another channel only: its consents there say nothing of this one
            judged = json.loads(other["result"] or "{}").get("channel")
            raise PostError(f"{label}: checked for {judged}, not {channel}: check it for {channel} first"
                            + (f" ({how} --channel {channel})" if how else ""))
        raise PostError(f"{label}: never checked: check it first" + (f" ({how})" if how else ""))
    if check["verdict"] != PASS and not check["released"]:
        raise PostError(f"{label}: its latest check (#{check['id']}) is '{check['verdict']}', not released: "
                        "not marked as posted")
    return check


def _record_post(db, check: dict, channel: str, on: str, where: str | None, path: str | None, name: str,
                 by: str, interface: str) -> int:
    what = {"channel": channel, "on": on, "where": where, "path": path}
    return audit.record_event(db, {
        "checked_at": now(), "os_user": by, "interface": interface, "file_name": name,
        "sha256": check["sha256"], "verdict": PASS, "reasons": json.dumps([f"posted on {channel} ({on})"
                                                                           + (f" at {where}" if where else "")]),
        "student_numbers": check.get("student_numbers") or "[]", "sync_id": check["sync_id"],
        "result": json.dumps(what), "event": "posted", "ref_id": check["id"]})


def mark_taken_down(db: sqlite_utils.Database, check_id: int, note: str, by: str | None = None,
                    interface: str = "web") -> int:
    """Record that the posts of the earlier check ``check_id`` a re-check listed were taken down (who,
    when, ``note``: where it was removed, what was kept). Only a check with a re-check finding can be
    marked; later re-checks show it as taken down, not as something still to take down, until the
    photo is marked as posted again."""
    note = " ".join((note or "").split())
    if len(note) < 5:
        raise PostError("say in a few words what was taken down, and where (kept with the mark)")
    check = stored.check_row(db, check_id)
    found = [f for f in stored.recheck_list(db) if f["ref_id"] == check_id]
    if check is None or not found:
        raise PostError(f"check #{check_id} has no re-check finding: nothing to take down")
    return audit.record_event(db, {
        "checked_at": now(), "os_user": by or os_user(), "interface": interface, "file_name": check["file_name"],
        "sha256": check["sha256"], "verdict": found[0]["verdict"], "reasons": json.dumps([f"taken down: {note}"]),
        "student_numbers": found[0]["student_numbers"], "sync_id": check["sync_id"], "result": json.dumps({}),
        "event": "taken-down", "ref_id": check_id, "note": note[:500]})


def published_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files named, a folder standing for every photo and clip the scan would check in it
    (:func:`~consentguard.runners.scan.find_photos`: hidden and misnamed ones too)."""
    from consentguard.runners.scan import find_photos

    found: list[Path] = []
    for path in map(Path, paths):
        found += find_photos(path).photos if path.is_dir() else [path]
    return found


# -- who is newly restricted -----------------------------------------------------------------

class Rosters:
    """The roster as it stood at each sync run (undoing the later runs' changes), computed once per run."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.now = current_snapshots(db)
        self.portrait_sync = stored.portrait_syncs(db)
        self._at: dict[int | None, dict[str, dict]] = {}
        self._restricted: dict[tuple, set[str]] = {}

    def at(self, sync_id: int | None) -> dict[str, dict]:
        if sync_id is None:
            return {}
        if sync_id not in self._at:
            snaps = dict(self.now)
            for _, number, before in stored.changes_after(self.db, sync_id):
                if before is None:
                    snaps.pop(number, None)  # new since: not on the roster then
                else:
                    snaps[number] = json.loads(before)
            self._at[sync_id] = snaps
        return self._at[sync_id]

    def restricted_set(self, sync_id: int | None, channel: str | None, day: date, scope: str) -> set[str]:
        """Students restricted for ``scope`` on ``channel`` on ``day`` by the roster of ``sync_id``
        (None: today's roster), computed once per combination (thousands of checks share a few)."""
        key = (sync_id, channel, day, scope)
        if key not in self._restricted:
            snaps = self.now if sync_id == "now" else self.at(sync_id)
            self._restricted[key] = {n for n, snap in snaps.items()
                                     if restricted(consents_of(snap), scope, channel, day)}
        return self._restricted[key]

    def newly_restricted(self, check: dict, channel: str | None, today: date,
                         school: str | None = None) -> list[NewRestriction]:
        """Students restricted today (on ``channel``, None: any) who were not when ``check`` was made,
        or could not be found then: photo-restricted, but no portrait (or a newer one) encoded before that run;
        renamed since (the check looked for the old name: in any text if name-restricted, in text
        saying who is shown if photo-restricted); photo-restricted and moved into the ``school`` a
        check was scoped to since (a face that could not be judged passed if nobody there was).
        Only the students restricted today are looked at (sets computed once per run, channel and day)."""
        then_day, sync_id = _day(check["checked_at"]), check["sync_id"]
        then = self.at(sync_id)
        found = []
        for scope in ("photo", "name"):
            earlier = self.restricted_set(sync_id, channel, then_day, scope)
            for number in sorted(self.restricted_set("now", channel, today, scope)):
                snap = self.now[number]
                name = f"{snap.get('first_name', '')} {snap.get('last_name', '')}".strip()
                now_c = consents_of(snap)
                before = then.get(number)
                then_c = consents_of(before) if before else None
                if number not in earlier:
                    found.append(NewRestriction(number, name, scope, _why(then_c, scope, channel, today)
                                                + _where(now_c, scope, channel)))
                elif scope == "photo" and school is not None and _attends(snap, school) and not _attends(before, school):
                    found.append(NewRestriction(number, name, scope, f"photo-restricted, and moved to school {school} "
                                                "since the check (it counted the students of that school only)"))
                elif _renamed(before, snap):  # text naming a photo-restricted student as shown counts too
                    found.append(NewRestriction(number, name, scope, f"{scope}-restricted, and renamed since the "
                                                f"check (was {_full_name(before)}): the check looked for the old name"))
                elif scope == "photo" and self.portrait_sync.get(number, (0, 0))[1] > (sync_id or 0):
                    found.append(NewRestriction(number, name, scope, _portrait_why(self.portrait_sync[number],
                                                                                   sync_id or 0)))
        return found


def _portrait_why(syncs: tuple[int, float], check_sync: int) -> str:
    """Why a student restricted then is looked for again: their face could not be recognised then,
    or only from an older portrait (a newer one, or a face confirmed in review, may recognise them)."""
    first, newest = syncs
    if first > check_sync:
        return f"restricted then, but no usable portrait until sync #{first}: not recognisable then"
    return (f"restricted then; a newer portrait or reference (sync #{int(newest)}) came since the check, "
            "which compared the face with the older portraits only")


#: The fields a caption is searched for (the name as the roster has it and the legal name).
NAME_FIELDS = ("first_name", "middle_name", "last_name", "legal_first_name", "legal_last_name")


def _renamed(then: dict, now_: dict) -> bool:
    """A name the check could not look for: a name field changed since (a new surname, a preferred name)."""
    return any((then.get(f) or "") != (now_.get(f) or "") for f in NAME_FIELDS)


def _full_name(snap: dict) -> str:
    return " ".join(snap.get(f) or "" for f in ("first_name", "middle_name", "last_name") if snap.get(f))


def _at_risk_then(rosters: "Rosters", check: dict, channel: str | None, school: str | None) -> bool:
    """Whether a photo-restricted student could have been in the photo when it was checked (what a
    face that cannot be judged is reviewed by): with none, such a face passed unjudged. From the
    restricted set computed once per run, channel and day."""
    then = rosters.at(check["sync_id"])
    return any(_attends(then[n], school)
               for n in rosters.restricted_set(check["sync_id"], channel, _day(check["checked_at"]), "photo"))


def _attends(snap: dict, school: str | None) -> bool:
    """A snapshot's student is in the scope of ``school`` (the rule of :meth:`Student.attends`)."""
    from consentguard.match.index import Student

    return Student("", "", "", True, False, school_id=snap.get("school_id") or "").attends(school)


def _day(stamp: str) -> date:
    """The day a check judged by: this machine's local date when it was made (the checker uses
    ``date.today()``; the audit stamp is UTC, a day ahead on a US evening)."""
    return datetime.fromisoformat(stamp).astimezone().date()


def _where(consents, scope: str, channel: str | None) -> str:
    """On which channels, when the check judged for every channel and the restriction is not on all
    (a student restricted in the yearbook only: a website post of a check without a channel may stay)."""
    from consentguard.roster.consent import describe

    where = describe(consents, scope)
    return f" (on {where.replace(',', ', ')} only)" if channel is None and where not in ("all", "none") else ""


def _why(then, scope: str, channel: str | None, today: date) -> str:
    if then is None:
        return f"{scope}-restricted; not on the roster when checked"
    if not restricted(then, scope, channel, today):
        return f"{scope}-restricted since the check"
    return f"{scope} release ended since the check"


# -- the re-check ----------------------------------------------------------------------------

def recheck(db: sqlite_utils.Database, policy, search: Iterable[str | Path] = (), keep_copies: str | Path | None = None,
            record: bool = True, progress=None) -> RecheckReport:
    """Find the earlier checks that let out a photo or caption now showing or naming a newly
    restricted student (module docstring). ``keep_copies``: store each affected original with its
    caption and reasons there (0700 folder, 0600 files). ``record``: each finding is an audit event
    (once per check and set of students), as is each kept copy."""
    from consentguard.runners.check import Checker

    today = date.today()  # the day the checkers judge by (releases end at midnight)
    rosters = Rosters(db)
    released = stored.overrides(db)
    published = stored.posts(db)
    report = RecheckReport()
    checkers: dict[tuple, Checker] = {}
    finder = _Finder(search)
    candidates = _latest_per_content(stored.published_candidates(db), published)
    for n, check in enumerate(candidates):
        if progress is not None:
            progress(n, len(candidates))
        report.looked_at += 1
        doc = json.loads(check["result"] or "{}")
        channel, school = doc.get("channel"), doc.get("school")
        new = rosters.newly_restricted(check, channel, today, school)
        if not new:
            continue
        report.rechecked += 1
        key = (channel, school)
        if key not in checkers:
            checkers[key] = Checker(db, policy, channel=channel, school=school, interface="recheck", record=False)
        judged = _at_risk_then(rosters, check, channel, school)
        finding = _recheck_one(checkers[key], check, doc, new, finder, check["posts"], released.get(check["id"]),
                               report, judged)
        if finding is not None:
            report.findings.append(finding)
    report.problems = sorted({w for c in checkers.values() for w in c.warnings})  # e.g. restricted, no portrait
    done = stored.taken_down(db)
    for finding in report.findings:  # taken down after its newest post (a post marked again is open again)
        mark = done.get(finding.check["id"])
        if mark is not None and all(mark["at"] >= p["marked_at"] for p in finding.posted):
            finding.taken_down = mark
    report.findings.sort(key=lambda f: f.posted_at, reverse=True)
    if keep_copies is not None:
        _keep(db, report, Path(keep_copies), record)
    if record:
        _record(db, report)
    return report


def _latest_per_content(checks: list[dict], published: dict[int, list[dict]]) -> list[dict]:
    """One earlier check per photo content, caption and channel (the newest: the same photo checked
    again is one publication to look at), carrying the posts of that photo on that channel. A post
    marks the photo, not one caption: a photo checked with its caption and then again without one
    (and marked posted after that) keeps its post with the caption too (which text went with it is
    not known, so every caption it was let out with is listed as posted)."""
    latest: dict[tuple, dict] = {}
    by_photo: dict[str, list[dict]] = {}
    for check in checks:  # oldest first
        doc = json.loads(check["result"] or "{}")
        latest[(check["sha256"], _caption(doc), doc.get("channel"), doc.get("school"))] = check
        by_photo.setdefault(check["sha256"], []).extend(published.get(check["id"], []))
    return [{**check, "posts": [p for p in by_photo[sha] if channel is None or p.get("channel") == channel]}
            for (sha, _, channel, _), check in latest.items()]


def _caption(doc: dict) -> str | None:
    """The caption an earlier check was given (results before it was stored carry only the caption
    with the then-restricted names taken out: the names a re-check looks for are still in it)."""
    return doc["caption"] if "caption" in doc else doc.get("scrubbed_caption")


def _recheck_one(checker, check: dict, doc: dict, new: list[NewRestriction], finder: "_Finder",
                 posted: list[dict], released, report: RecheckReport, judged: bool = True) -> Finding | None:
    """``judged``: a photo-restricted student could be in the photo when it was checked, so a face
    that cannot be judged was reviewed then (False: such a face passed unjudged)."""
    photo_new = {n.student_number for n in new if n.scope == "photo"}
    name_new = {n.student_number for n in new if n.scope == "name"}
    caption = _caption(doc)
    # where it was posted from, where it was checked (the absolute path; the path as given last: a
    # relative one means the folder the check was run in)
    candidates = [p["path"] for p in posted if p.get("path")] + [doc.get("location"), doc.get("path")]
    path = finder.find(check["sha256"], [c for c in candidates if c])
    base = dict(check=check, posted=posted, released_by=released)
    if path is None:
        # the caption is stored: it can be checked again; the picture cannot
        evidence = PhotoEvidence(doc.get("path") or check["file_name"], check["sha256"], [],
                                 checker.names.caption(caption) + checker.names.path(doc.get("path") or ""), [], None)
        (decision,), _ = checker.decide([evidence])
        because = _because(decision, checker, photo_new, name_new)
        # the text in the picture and its metadata are not stored: unknown, so listed (fail closed)
        state = CHANGED if finder.changed(candidates, check["sha256"]) else MISSING
        where = f"{doc.get('path') or check['file_name']}: cannot re-check: " + (
            "the file there is no longer the photo that was checked" if state == CHANGED else "file missing")
        return Finding(state, **base, new=new, verdict=worst([REVIEW] + ([decision.verdict] if because else [])),
                       because=[where + " (pass --search FOLDER to find it by its content)"] + because)
    if not name_new and _nobody_new_nearby(checker, path, doc, photo_new, judged):
        report.quick += 1
        return None
    result = checker.check_path(path, caption, record=False)
    declared = [Declared(d["student_number"], d.get("name") or "") for d in doc.get("declared") or []
                if d.get("student_number") in checker.students]
    if declared and result.evidence is not None:  # the people staff declared then, judged by consent now
        result.evidence.declared = declared
        (result.decision,), _ = checker.decide([result.evidence])
    fresh = result.to_json()
    because = _because(result.decision, checker, photo_new, name_new, result.evidence)
    declared_new = [d for d in result.decision.declared if d["student_number"] in photo_new and d["verdict"] != PASS]
    because += [f"declared as shown by staff when it was checked: now photo-restricted "
                f"{_who(checker.context, d['student_number'])}" for d in declared_new]
    if photo_new:  # a face that cannot be judged was let out without anyone looking for these students
        since = (f"released by {released[1]}" if released is not None else "it passed") + \
            f" before {_names(new, 'photo')} was photo-restricted: look again"
        because += [f"{f.reason}; {since}" for f in result.decision.faces
                    if f.verdict != PASS and not f.student_number and f.reason]
    if result.decision.verdict == "error":
        because = [f"{path}: cannot re-check: {'; '.join(result.decision.reasons)}"]
    if not because:
        return None
    verdict = worst([f.verdict for f, _ in _new_faces(result.decision, checker, photo_new, result.evidence)]
                    + [BLOCK if h.strength == BLOCK else REVIEW for h in result.decision.names
                       if _new_hit(h, photo_new, name_new)] + [d["verdict"] for d in declared_new] + [REVIEW])
    return Finding(AFFECTED, **base, new=new, verdict=verdict, because=because, path=str(path), result=fresh)


def _names(new: list[NewRestriction], scope: str) -> str:
    return ", ".join(f"{n.name} (#{n.student_number})" for n in new if n.scope == scope)


def _nobody_new_nearby(checker, path: str, doc: dict, photo_new: set[str], judged: bool = True) -> bool:
    """The quick re-check: True when no face of the earlier check can be a newly photo-restricted
    student, from the faces it found (their boxes encoded again: no encoding was kept) compared with
    those students only. Used only where it is exact: same detector and mode, faces in the photo as
    shown (not a frame or page), each encodable, every new student with an indexed portrait, no text
    (metadata, or read in the picture when OCR is on) naming one of them as shown, and a
    photo-restricted student could be in it then (``judged``: else a face too blurred, turned or small
    to judge passed unjudged, and is a review now); anything else is checked in full (False)."""
    from consentguard.inspect.faces import DETECTOR_VERSION, MIN_ENCODE_PX, Face, encode_face
    from consentguard.inspect.image import decode_image, read_file
    from consentguard.inspect.video import is_video

    p, faces = checker.policy, doc.get("faces")
    thresholds = doc.get("thresholds") or {}
    if (not p.face_recognition or doc.get("declared") or is_video(path) or faces is None or thresholds.get("detector") != DETECTOR_VERSION
            or thresholds.get("detect_mode") != p.detect_mode or not photo_new <= set(checker.index.owners)
            or any(f.get("view") is not None or f["box"][2] - f["box"][0] < MIN_ENCODE_PX for f in faces)):
        return False
    if faces and not judged:
        return False
    widest = max(getattr(p, name) for name in vars(p) if name.endswith("_distance") and
                 isinstance(getattr(p, name), float))
    try:
        image = decode_image(read_file(path), path)
    except ImageError:
        return False
    # text that says who is shown names photo-restricted students too: metadata, and text in the picture
    texts, unread = checker.names.metadata(image.metadata), None
    if p.ocr:
        found, unread = checker.names.pictures(image, p)
        texts += found
    if unread or any(h.student_number in photo_new for h in texts):
        return False
    if not faces:
        return True
    rgb = image.rgb
    for f in faces:
        encoding = encode_face(rgb, Face(tuple(f["box"]), rotation=f.get("rotation") or 0), p.encode_jitters)
        if any(number in photo_new and distance <= widest for number, distance in checker.index.nearest(encoding)):
            return False
    return True


def _because(decision, checker, photo_new: set[str], name_new: set[str], evidence=None) -> list[str]:
    """The reasons of a new decision that concern a newly restricted student."""
    faces = [f.reason + (f"; {also}" if also else "") for f, also in _new_faces(decision, checker, photo_new, evidence)
             if f.reason]
    names = [judge_name(h, checker.context) for h in decision.names if _new_hit(h, photo_new, name_new)]
    return faces + names


def _new_faces(decision, checker, photo_new: set[str], evidence=None) -> list[tuple]:
    """(face result, what else to say) of each face not passed that is, or is as near to, a newly
    photo-restricted student: a face reviewed or blocked as a student restricted before (twins, a
    sibling) who is nearest by a hair was let out before, and may be the one restricted since."""
    nearest = {(tuple(f.box), f.view): f.nearest or [] for f in (evidence.faces if evidence else [])}
    found = []
    for f in decision.faces:
        if f.verdict == PASS:
            continue
        if f.student_number in photo_new:
            found.append((f, None))
            continue
        close = [(n, d) for n, d in nearest.get((tuple(f.box), f.view), [])
                 if n in photo_new and d <= checker.policy.review_distance]
        if f.student_number and close:
            number, distance = close[0]
            found.append((f, f"it is as near to {_who(checker.context, number)}, photo-restricted since the check "
                             f"(distance {distance:.2f}): look again"))
    return found


def _new_hit(hit, photo_new: set[str], name_new: set[str]) -> bool:
    """A name hit about a newly restricted student: a name-restricted one named anywhere, or a
    photo-restricted one named where text says who is shown (people-shown metadata, a name tag)."""
    return hit.student_number in (photo_new if hit.restriction == "photo" else name_new)


class _Finder:
    """A photo by its content: where it was, else anywhere under the search folders (hashed once)."""

    def __init__(self, search: Iterable[str | Path]):
        self.search = [Path(s) for s in search]
        self._index: dict[str, str] | None = None

    def find(self, sha: str, paths: list[str]) -> str | None:
        for p in paths:
            if _sha_of(p) == sha:
                return p
        if not self.search:
            return None
        if self._index is None:
            self._index = {}
            for p in published_files(self.search):
                self._index.setdefault(_sha_of(str(p)) or "", str(p))
        return self._index.get(sha)

    @staticmethod
    def changed(paths: list[str], sha: str) -> bool:
        return any(Path(p).is_file() and _sha_of(p) != sha for p in paths)


def _sha_of(path: str) -> str | None:
    try:
        if not Path(path).is_file():
            return None
        return sha256_file(path)
    except ImageError:
        return None


# -- keeping copies and the audit trail --------------------------------------------------------

def _keep(db, report: RecheckReport, folder: Path, record: bool) -> None:
    """Each affected original, its caption and reasons, kept in ``folder`` (0700; files 0600)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    for finding in report.takedowns:
        if finding.path is None:
            continue
        stem = f"check-{finding.check['id']}-{Path(finding.path).name}"
        target = folder / stem
        copy_atomic(finding.path, target)  # 0600 from the start, never half a copy
        write_atomic(folder / f"{stem}.json", json.dumps(finding.to_json(), indent=2, ensure_ascii=False))
        finding.kept = str(target)
        if record:
            audit.record_event(db, _event(finding, "takedown-copy", [f"copy of removed content kept at {target}"]))


def _record(db, report: RecheckReport) -> None:
    """One audit event per finding, once per earlier check and set of newly restricted students."""
    seen = stored.recheck_findings(db)
    for finding in report.findings:
        numbers = json.dumps(sorted({n.student_number for n in finding.new}))
        if (finding.check["id"], numbers) in seen:
            continue
        audit.record_event(db, _event(finding, "recheck", finding.because, numbers))


def _event(finding: Finding, event: str, reasons: list[str], numbers: str | None = None) -> dict:
    return {"checked_at": now(), "os_user": os_user(), "interface": "recheck",
            "file_name": finding.check["file_name"], "sha256": finding.check["sha256"], "verdict": finding.verdict,
            "reasons": json.dumps(reasons),
            "student_numbers": numbers or json.dumps(sorted({n.student_number for n in finding.new})),
            "sync_id": finding.check["sync_id"], "result": json.dumps({"status": finding.status,
                                                                      "kept_copy": finding.kept}),
            "event": event, "ref_id": finding.check["id"], "note": finding.status}
