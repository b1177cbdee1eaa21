"""Which text is searched for which students: the caption, the file and folder names, the
photo's metadata and the text read in its pictures (OCR).

How strongly each form of a name counts where, and so which students are looked for in which
text at all, is the decision's table (:data:`consentguard.decide.NAME_STRENGTH`); this module
picks the texts and the students, and :func:`consentguard.match.names.find_names` finds them.
The Checker (consentguard.runners.check) only calls it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from consentguard.decide import RESTRICTIONS, searched
from consentguard.match.index import Student
from consentguard.match.names import FIRST_ONLY_MAX_SHARED, NameHit, RosterNames, find_names, first_name_counts
from consentguard.policy import Policy


@dataclass
class NameSearch:
    """The students of one roster to look for, and the texts of a photo to look in."""

    name_restricted: list[Student]
    photo_restricted: list[Student]
    first_names: RosterNames  # the whole roster's first names (first-name-alone hits)
    #: the folder a scan started from: folder names below it are searched (None: the parent folder's)
    root: Path | None = None

    @classmethod
    def of(cls, students: Iterable[Student], root: str | Path | None = None,
           first_only_max_shared: int = FIRST_ONLY_MAX_SHARED) -> NameSearch:
        students = list(students)
        return cls([s for s in students if s.name_restricted], [s for s in students if s.photo_restricted],
                   first_name_counts(students, first_only_max_shared), Path(root) if root is not None else None)

    @property
    def anyone(self) -> bool:
        """Whether any student is looked for (else reading text in the photo is not worth its time)."""
        return bool(self.name_restricted or self.photo_restricted)

    def _students(self, source: str, restriction: str) -> list[Student]:
        """The students of ``restriction`` looked for in ``source`` (none where NAME_STRENGTH has no verdict)."""
        if not searched(source, restriction):
            return []
        return self.name_restricted if restriction == "name" else self.photo_restricted

    def _find(self, text: str, source: str, first_names: RosterNames | None, compact: bool = False,
              restrictions: Iterable[str] = RESTRICTIONS) -> list[NameHit]:
        hits: list[NameHit] = []
        for restriction in restrictions:
            students = self._students(source, restriction)
            if students:
                hits += find_names(text, students, source, first_names, compact, restriction)
        return hits

    def caption(self, caption: str | None) -> list[NameHit]:
        return self._find(caption or "", "caption", self.first_names)

    def path(self, name: str) -> list[NameHit]:
        """Restricted names in the file name, and in the folder names below ``root`` (without
        a root: the parent folder's). Folder names are read without the roster's first names
        (no first name alone is looked for there)."""
        path = Path(name)
        hits = self._find(path.name, "filename", self.first_names)
        folders: tuple[str, ...] = (path.parent.name,) if path.parent.name else ()
        if self.root is not None:
            try:
                folders = path.parent.relative_to(self.root).parts
            except ValueError:
                pass
        for folder in folders:
            hits += self._find(folder, "folder", None)
        return hits

    def metadata(self, fields) -> list[NameHit]:
        """Restricted names in the photo's metadata fields (inspect.metadata.TextField). Only identity
        fields (people shown, named face regions) are also searched for photo-restricted students."""
        hits: list[NameHit] = []
        for item in fields:
            found = self._find(item.text, f"metadata:{item.field}", self.first_names,
                               restrictions=RESTRICTIONS if item.identity else ("name",))
            for hit in found:
                hit.box, hit.seconds = item.box, item.seconds
            hits += found
        return hits

    def pictures(self, image, policy: Policy) -> tuple[list[NameHit], str | None]:
        """Restricted names in the text inside the photo and in every other view of the file that
        shows something the photo does not (frames, pages, appended images, a stale thumbnail, hidden
        pixels; not the smoothed copy of a dither), and why some could not be read (or None)."""
        if not self.anyone:
            return [], None
        hits, errors = [], []
        for view, rgb in image.pictures(for_text=True):
            found, error = self.picture(rgb, image.name, view, policy)
            hits += found
            errors += [error] if error else []
        return hits, "; ".join(errors) or None

    def picture(self, rgb, name: str, view: str | None, policy: Policy) -> tuple[list[NameHit], str | None]:
        """Name-restricted students are looked for in every form; photo-restricted ones by full
        name only, as a review (a certificate or name tag suggests they may be in the photo)."""
        from consentguard.errors import ModelError
        from consentguard.inspect.ocr import MAX_LINES, box_of, joined, read_lines

        where = f" (in {view})" if view else ""
        try:
            lines, unread = read_lines(rgb, policy.detect_mode, policy.ocr_sides)
        except ModelError:
            raise
        except Exception as exc:  # the OCR engine failing on one photo: that photo is not fully checked
            return [], f"{name}: text in the photo{where} could not be read ({exc}): names in it cannot be checked"
        text, spans = joined(lines)
        hits = self._find(text, "ocr", self.first_names, compact=True)
        for hit in hits:
            hit.box = box_of(spans, hit.start, hit.end)
            hit.view = view
        if unread:
            return hits, (f"{name}: text in the photo{where} was read only in part ({unread} of "
                          f"{unread + MAX_LINES} text regions past the first {MAX_LINES} were not read): "
                          "names in them cannot be checked")
        return hits, None


class FrameTexts:
    """The names in the text inside a clip's sampled frames (OCR), fed frame by frame while the
    clip streams (:meth:`see`). Which frames are read is :class:`consentguard.inspect.video.TextFrames`'
    choice; each is read as a photo is (:meth:`NameSearch.picture`: same forms, same downgrades).
    One showing of a name is one hit: seen again in the next frame read (or in frames that look
    the same) it only lasts longer (``seconds``: first, last), so a title on screen from 2 s to 5 s
    is one entry whose view is the first frame it was read in."""

    def __init__(self, search: NameSearch, name: str, policy: Policy):
        from consentguard.inspect.video import TextFrames

        self.search, self.name, self.policy = search, name, policy
        self.frames = TextFrames(policy.video_ocr_seconds)
        self.hits: list[NameHit] = []
        self.showing: dict[tuple, NameHit] = {}  # what the last frame read showed
        self.errors: list[tuple[float, str]] = []

    def see(self, time: float, rgb) -> None:
        from consentguard.inspect.video import READ, SAME, frame_view

        look = self.frames.look(time, rgb)
        if look == SAME:
            for hit in self.showing.values():
                hit.seconds = _lasting(hit.seconds, time)
        if look != READ:
            return
        found, error = self.search.picture(rgb, self.name, frame_view(time), self.policy)
        if error:
            self.errors.append((time, error))
        showing = {}
        for hit in found:
            key = (hit.student_number, hit.restriction, hit.form, hit.text.casefold())
            if key in showing:
                continue
            before = self.showing.get(key)
            if before is not None:
                before.seconds = _lasting(before.seconds, time)
                showing[key] = before
            else:
                hit.seconds = (time, time)
                self.hits.append(hit)
                showing[key] = hit
        self.showing = showing

    @property
    def unchecked(self) -> list[str]:
        """The frames whose text could not be read (fully): one part not checked naming them all."""
        if not self.errors:
            return []
        from consentguard.inspect.video import clock

        times = ", ".join(clock(t) for t, _ in self.errors[:5]) + (" ..." if len(self.errors) > 5 else "")
        return [f"{self.errors[0][1]}" + (f" (and in {len(self.errors) - 1} more frames read for text: {times})"
                                          if len(self.errors) > 1 else "")]


def _lasting(seconds: tuple[float, float], time: float) -> tuple[float, float]:
    """A showing's (first, last) seen again at ``time`` (a clip's time can jump back: joined recordings)."""
    return min(seconds[0], time), max(seconds[1], time)
