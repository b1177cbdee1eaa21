"""Report: turn check results into the human listing or the public JSON document.

The JSON document is a public interface (see README, "JSON output"): fields are
only ever added, never renamed or removed, and ``format_version`` says which.
"""

from __future__ import annotations

import json
import re

from consentguard.decide import PASS, verdict_summary

FORMAT_VERSION = 1


def human_lines(result) -> list[str]:
    """One line with the verdict, then one indented line per reason."""
    doc = result.to_json()
    faces = len(doc["faces"])
    head = f"{doc['verdict'].upper():<6}  {doc['path']}"
    if doc["verdict"] != "error":
        head += f"  ({faces} face{'s' if faces != 1 else ''})"
    lines = [head]
    lines += [f"        - {reason}" for reason in doc["reasons"]]
    return lines


def human(results) -> str:
    lines = []
    for result in results:
        lines += human_lines(result)
    scrubbed = {r.scrubbed_caption for r in results if r.caption is not None}
    if results and results[0].caption is not None and scrubbed != {results[0].caption}:
        lines.append(f"caption without restricted names: {scrubbed.pop()}")
    summary = verdict_summary(r.verdict for r in results)
    lines.append(f"{len(results)} photo{'s' if len(results) != 1 else ''}: {summary}")
    return "\n".join(lines)


def json_document(results, **extra) -> str:
    return json_document_docs([r.to_json() for r in results], **extra)


def json_document_docs(docs: list[dict], **extra) -> str:
    """The public document; ``warnings`` says what weakened every check (e.g. photo-restricted
    students without a usable portrait); ``scan`` adds ``not_photos`` (files found that are not images)."""
    return json.dumps({"format_version": FORMAT_VERSION, "results": docs, **extra}, indent=2,
                      ensure_ascii=False)


CSV_FIELDS = ("verdict", "path", "faces", "student_numbers", "reasons", "sha256")
#: Longest cell written: spreadsheets refuse longer ones (Excel: 32,767 characters).
MAX_CELL = 32_000
NOT_CHECKED, INCOMPLETE, WARNING = "not checked", "INCOMPLETE", "WARNING"


def write_csv(out, header, rows, max_cell: int | None = None) -> None:
    """``rows`` as CSV into the text stream ``out``, after a ``header`` row: every CSV consentguard
    writes (scan reports, the audit export). Each cell is one a spreadsheet shows as text
    (:func:`spreadsheet_safe`); with ``max_cell``, cut to at most that many characters."""
    import csv

    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([[_cell(v, max_cell) for v in row] for row in rows])


def export_audit_csv(rows: list[dict], out) -> None:
    """Audit rows (:func:`consentguard.store.audit.query`) as CSV into ``out``, reasons and student
    numbers joined with ' | ', through the one CSV writer (formula-like cells defused)."""
    from consentguard.store.audit import EXPORT_FIELDS

    def cell(field, value):
        return " | ".join(json.loads(value)) if field in ("reasons", "student_numbers") and value else value

    write_csv(out, EXPORT_FIELDS, [[cell(f, row[f]) for f in EXPORT_FIELDS] for row in rows])


def write_scan_csv(results: list[dict], path, status: str | None = None,
                   not_checked: list[tuple] = (), warnings: list[str] = ()) -> None:
    """One row per photo, worst first; reasons joined with ' | '. When not everything was checked,
    the first row says so (``status``) and the entries not checked follow the photos; what
    weakened every check (``warnings``) comes first, one row each."""
    write_atomic(path, csv_text(results, status, not_checked, warnings))


def csv_text(results: list[dict], status: str | None = None, not_checked: list[tuple] = (),
             warnings: list[str] = ()) -> str:
    import io

    rows = [[WARNING, "", "", "", warning, ""] for warning in warnings]
    rows += [[INCOMPLETE, "", "", "", status, ""]] if status else []
    rows += [[doc["verdict"], doc["path"], len(doc["faces"]), " ".join(doc["student_numbers"]),
              " | ".join(summarised_reasons(doc["reasons"])), doc["sha256"] or ""] for doc in results]
    rows += [[NOT_CHECKED, str(path), "", "", reason, ""] for path, reason in not_checked]
    out = io.StringIO()
    write_csv(out, CSV_FIELDS, rows, MAX_CELL)
    return out.getvalue()


def _cell(value, max_cell: int | None = None) -> str:
    """A cell a spreadsheet shows as text and accepts (at most ``max_cell`` characters)."""
    value = spreadsheet_safe(value)
    if max_cell is not None and len(value) > max_cell:
        cut = " ... (cut here: the JSON report has the rest)"
        value = value[:max_cell - len(cut)] + cut
    return value


def spreadsheet_safe(value) -> str:
    """A CSV cell a spreadsheet shows as text: a cell starting like a formula (=, +, -, @, tab,
    carriage return) is prefixed with a quote, so a file or student name cannot run as one."""
    value = "" if value is None else str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_atomic(path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a temporary file renamed over it), so a reader, or
    a scan killed mid-write, never leaves half a report. Created 0600: reports name students."""
    def write(fd: int) -> None:
        import os

        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)

    _replace(path, write)


def copy_atomic(source, path) -> None:
    """Copy the file ``source`` to ``path`` as :func:`write_atomic` writes (0600 from the start,
    whole or not at all), streamed: a kept clip is never read into memory whole."""
    def write(fd: int) -> None:
        import os
        import shutil

        with open(source, "rb") as src, os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(src, f, 1 << 20)

    _replace(path, write)


def _replace(path, write) -> None:
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # a report folder that does not exist yet
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        write(fd)
        os.replace(tmp, path)
    except BaseException:  # Ctrl-C may land after the rename: then there is nothing to remove
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def scan_status(scan, running: bool = False) -> str | None:
    """What every scan report says at its top when not everything was checked, else None."""
    import signal
    import time

    checked, total = len(scan.results), scan.total
    not_checked = scan.not_checked(running)
    if running:
        written = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        head = (f"INCOMPLETE: written while the scan was running ({written}): "
                f"{checked} of {total} photos checked so far. If the scan is no longer running, it was stopped "
                "before it finished: run the same command again to resume.")
    elif scan.interrupted:
        head = (f"INCOMPLETE: the scan was interrupted ({signal.Signals(scan.exit_signal).name}): {checked} of "
                f"{total} photos checked. Run the same command again to resume.")
    elif not_checked:
        head = "INCOMPLETE: not everything in the folder was checked."
    else:
        return None
    if not_checked:
        head += f" Not checked: {len(not_checked)} (photos, files or folders; each is listed with the reason)."
    return head


def scan_document(scan, running: bool = False) -> str:
    """The scan's JSON document: ``check``'s, plus ``not_photos``, ``complete``, ``status`` and
    ``not_checked`` (each entry's path and reason)."""
    status = scan_status(scan, running)
    return json_document_docs([r.doc for r in scan.worst_first()], not_photos=[str(p) for p in scan.not_photos],
                              complete=status is None, status=status, warnings=scan.warnings,
                              not_checked=[{"path": str(p), "reason": why} for p, why in scan.not_checked(running)],
                              review_items=[i.to_json() for i in getattr(scan, "review_items", [])])


def scan_lines(scan) -> list[str]:
    """The terminal summary: counts, each photo that did not pass with its reasons, what was not checked."""
    lines = [f"{len(scan.results)} of {scan.total} photos checked ({scan.cached} from the cache): "
             + verdict_summary(r.verdict for r in scan.results)]
    for r in scan.worst_first():
        if r.verdict != PASS:
            lines.append(f"{r.verdict.upper():<6}  {r.doc['path']}")
            lines += [f"        - {reason}" for reason in r.doc["reasons"]]
    lines += [f"Warning: {warning}" for warning in scan.warnings]
    if scan.roster_changed:
        lines.append(f"Note: a roster sync (#{scan.roster_changed}) landed during the scan: the photos checked "
                     "after it were judged against it (each result's roster_sync_id says which)")
    not_photos = [str(p) for p in scan.not_photos]
    if not_photos:
        lines.append(f"{len(not_photos)} other file(s) not checked (not images): "
                     + ", ".join(not_photos[:5]) + (" ..." if len(not_photos) > 5 else ""))
    lines += [f"NOT CHECKED  {path}: {reason}" for path, reason in scan.skipped]
    pending = scan.pending()
    lines += [f"NOT CHECKED  {path}: the scan was interrupted before it reached this photo" for path in pending[:10]]
    if len(pending) > 10:
        lines.append(f"NOT CHECKED  ... and {len(pending) - 10} more photos (the scan was interrupted)")
    status = scan_status(scan)
    if status:
        lines.append(status)
    return lines


class ScanReports:
    """The scan's report files (CSV, HTML, JSON), rewritten whole as results arrive.

    Written before the first photo, then at most every ``interval`` seconds (and never
    more than a tenth of the time: a big HTML report takes a while), then a final
    time by the caller: whenever the scan stops, even killed outright, the files on
    disk are whole and say at their top whether they are complete."""

    def __init__(self, csv=None, html=None, json=None, title: str = "consentguard scan", interval: float = 2.0):
        self.csv, self.html, self.json, self.title, self.interval = csv, html, json, title, interval
        self._next = 0.0

    def __bool__(self) -> bool:
        return bool(self.csv or self.html or self.json)

    def write(self, scan, running: bool = False) -> None:
        import time

        started = time.monotonic()
        status, not_checked, ordered = scan_status(scan, running), scan.not_checked(running), scan.worst_first()
        if self.csv:
            write_scan_csv([r.doc for r in ordered], self.csv, status, not_checked, scan.warnings)
        if self.html:
            write_atomic(self.html, html_report(ordered, self.title, status, not_checked, scan.warnings,
                                                getattr(scan, "review_items", None) or []))
        if self.json:
            write_atomic(self.json, scan_document(scan, running))
        took = time.monotonic() - started
        self._next = time.monotonic() + max(self.interval, 10 * took)

    def update(self, scan) -> None:
        """Rewrite the reports if it is time to (see the class docstring)."""
        import time

        if time.monotonic() >= self._next:
            self.write(scan, running=True)


HTML_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1d1d1f;max-width:70rem}
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ccc;padding:.5rem;vertical-align:top;text-align:left}
.v{font-weight:700;padding:.15rem .5rem;border-radius:.25rem;color:#fff;white-space:nowrap}
.block{background:#b3261e}.review{background:#8a5300}.error{background:#5d5d5d}.pass{background:#1e6b34}
img{max-width:360px;height:auto;display:block}ul{margin:0;padding-left:1.1rem}
.path{font-family:ui-monospace,monospace;word-break:break-all}
.incomplete{border:3px solid #b3261e;padding:.75rem;font-weight:600}
.warning{border-left:.3rem solid #8a5300;background:#fff4e0;padding:.5rem .75rem}
.item{border:2px solid #8a5300;border-radius:.4rem;padding:.5rem 1rem;margin:1rem 0}
.closeups{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0}
.closeups img{width:128px;min-width:96px;max-width:none}.closeups figure{margin:0}
figcaption{font-size:.8rem;max-width:128px;word-break:break-all}
code{background:#f2f2f2;padding:.1rem .3rem;display:inline-block;word-break:break-all}
.filters{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;margin:.5rem 0}
.filters fieldset{border:1px solid #ccc;border-radius:.3rem}.see{font-size:.9rem}
.judged{margin:.5rem 0}.judged ul{columns:2;font-size:.85rem}details summary{cursor:pointer}
"""


def html_report(scan_results, title: str, status: str | None = None, not_checked: list[tuple] = (),
                warnings: list[str] = (), review_items=()) -> str:
    """A self-contained page (no external files; one small inline script): thumbnails with face
    boxes, worst first; when not everything was checked, it says so first and lists what was not
    checked last; what weakened every check (``warnings``) is said first; the roster sync and
    settings the photos were judged with; then the decisions staff must make (``review_items``,
    :func:`review_section`, with close-ups), then the photos, with filters (verdict, student, folder)
    and their reasons summarised (faces alike in one line; more than three behind "more")."""
    import base64
    from html import escape

    summary = verdict_summary(r.verdict for r in scan_results)
    rows, students, folders = [], {}, set()
    for r in scan_results:
        doc = r.doc
        img = (f'<img alt="{escape(_name(doc["path"]))} with face boxes: red blocked, orange review, green pass" '
               f'src="data:image/jpeg;base64,{base64.b64encode(r.thumbnail).decode()}">' if r.thumbnail else "")
        folder = _folder(doc["path"])
        folders.add(folder)
        named = _students_named(doc)
        students.update(named)
        rows.append(f'<tr data-verdict="{escape(doc["verdict"])}" data-folder="{escape(folder)}" '
                    f'data-students="{escape(" ".join(named))}">'
                    f'<td><span class="v {doc["verdict"]}">{doc["verdict"].upper()}</span></td>'
                    f'<td>{img}<div class="path">{escape(doc["path"])}</div></td>'
                    f'<td>{_reasons_html(doc)}</td></tr>')
    banner = "".join(f'<p class="warning" role="note"><strong>Protection is weaker:</strong> {escape(w)}</p>'
                     for w in warnings)
    banner += f'<p class="incomplete" role="alert">{escape(status)}</p>' if status else ""
    missing = "".join(f'<tr><td class="path">{escape(str(path))}</td><td>{escape(why)}</td></tr>'
                      for path, why in not_checked)
    missing = (f'<h2 id="not-checked">Not checked ({len(not_checked)})</h2><table><thead><tr><th scope="col">Path'
               f'</th><th scope="col">Why</th></tr></thead><tbody>{missing}</tbody></table>' if not_checked else "")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{HTML_STYLE}</style></head>'
            f'<body><h1>{escape(title)}</h1>{banner}{_judged_with([r.doc for r in scan_results])}'
            f'{review_section(review_items)}'
            f'<h2 id="photos">Photos</h2><p>{len(scan_results)} photos: {escape(summary)}. Worst first.</p>'
            f'{_filters(scan_results, students, folders)}'
            f'<table><thead><tr><th scope="col">Verdict</th><th scope="col">Photo</th>'
            f'<th scope="col">Reasons</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f'<p id="shown" role="status"></p>{missing}<script>{FILTER_SCRIPT}</script></body></html>')


#: Faces named in a reason ("face at (1, 2, 3, 4) (turned ...)"), and the distances in it.
_FACE_AT = re.compile(r"face at \([^)]*\)( \((?:turned|upside)[^)]*\))?")
_DISTANCE = re.compile(r"\b\d\.\d\d\b")
_STUDENT = re.compile(r"-restricted (.+?) #([0-9A-Za-z_-]+)")
SHOWN_REASONS = 3


def summarised_reasons(reasons: list[str]) -> list[str]:
    """A crowd photo's reasons in few lines: reasons about faces that differ only in the face's box
    and the distances ("face at (..) resembles photo-restricted X: distance 0.58 ...") become one,
    the first (the order is the decision's) followed by how many more faces and their distances.
    Reasons about names, metadata or the photo are kept as they are; an exact repeat is dropped."""
    groups: dict[str, list[str]] = {}
    for reason in reasons:
        key = _DISTANCE.sub("#", _FACE_AT.sub("face", reason)) if _FACE_AT.search(reason) else reason
        groups.setdefault(key, []).append(reason)
    lines = []
    for alike in groups.values():
        first, more = alike[0], [r for r in alike[1:] if r != alike[0]]
        if more:
            distances = [d for r in more for d in _DISTANCE.findall(r)[:1]]
            lines.append(f"{first} (and {len(more)} more face{'s' if len(more) > 1 else ''} like it"
                         + (f": distance {', '.join(distances)})" if distances else ")"))
        else:
            lines.append(first)
    return lines


def _reasons_html(doc: dict) -> str:
    """The photo's reasons, summarised; more than SHOWN_REASONS behind a "more" (a crowd photo's row
    stays readable); a link to the decision(s) with close-ups of its faces in question."""
    from html import escape

    lines = summarised_reasons(doc["reasons"])
    if not lines:
        return "<ul><li>no restricted student found</li></ul>"
    shown = "".join(f"<li>{escape(x)}</li>" for x in lines[:SHOWN_REASONS])
    rest = "".join(f"<li>{escape(x)}</li>" for x in lines[SHOWN_REASONS:])
    more = (f"<details><summary>{len(lines) - SHOWN_REASONS} more reason"
            f"{'s' if len(lines) - SHOWN_REASONS > 1 else ''}</summary><ul>{rest}</ul></details>" if rest else "")
    items = [i if isinstance(i, str) else getattr(i, "id", None) for i in doc.get("review_items") or []]
    links = ", ".join(f'<a href="#item-{escape(i)}">decision {n}</a>' for n, i in enumerate(items, 1) if i)
    closeups = f'<p class="see">Close-ups of the faces in question: {links}</p>' if links else ""
    return f"<ul>{shown}</ul>{more}{closeups}"


def _students_named(doc: dict) -> dict[str, str]:
    """student number -> "Name #number" for the students a photo's reasons name (the filter's list)."""
    named = {number: f"{name} #{number}" for reason in doc["reasons"] for name, number in _STUDENT.findall(reason)}
    for number in doc.get("student_numbers") or []:
        named.setdefault(number, f"#{number}")
    return named


def _folder(path: str) -> str:
    from pathlib import PurePath
    return str(PurePath(path).parent)


def _judged_with(docs: list[dict]) -> str:
    """Which roster sync and which settings the photos were judged with (a cached result may be from an
    earlier sync or other settings: each differing value is listed with how many photos used it)."""
    from html import escape

    if not docs:
        return ""
    syncs: dict[str, int] = {}
    for doc in docs:
        key = f"#{doc['roster_sync_id']}" if doc.get("roster_sync_id") is not None else "none"
        syncs[key] = syncs.get(key, 0) + 1
    sync_text = ", ".join(f"{k} ({n} photo{'s' if n > 1 else ''})" if len(syncs) > 1 else k for k, n in syncs.items())
    settings: dict[str, dict[str, int]] = {}
    for doc in docs:
        for name, value in (doc.get("thresholds") or {}).items():
            settings.setdefault(name, {}).setdefault(str(value), 0)
            settings[name][str(value)] += 1
    items = "".join(
        f"<li><code>{escape(name)}</code> "
        + (escape(next(iter(values))) if len(values) == 1 else
           "; ".join(f"{escape(v)} ({n} photos)" for v, n in values.items())) + "</li>"
        for name, values in settings.items())
    channels = sorted({str(doc.get("channel")) for doc in docs if doc.get("channel")})
    return (f'<details class="judged"><summary>Judged with roster sync {escape(sync_text)}'
            + (f"; channel {escape(', '.join(channels))}" if channels else "")
            + f"</summary><ul>{items}</ul></details>")


def _filters(scan_results, students: dict[str, str], folders: set[str]) -> str:
    """The filter form above the photos (the inline script hides the rows that do not match)."""
    from html import escape

    if len(scan_results) < 2:
        return ""
    verdicts = sorted({r.doc["verdict"] for r in scan_results}, key=("block", "review", "error", "pass").index)
    boxes = "".join(f'<label><input type="checkbox" name="verdict" value="{v}" checked> {v}</label> '
                    for v in verdicts)
    people = "".join(f'<option value="{escape(n)}">{escape(label)}</option>'
                     for n, label in sorted(students.items(), key=lambda kv: kv[1]))
    places = "".join(f'<option value="{escape(f)}">{escape(f)}</option>' for f in sorted(folders))
    return ('<form id="filters" class="filters">' + f"<fieldset><legend>Show</legend>{boxes}</fieldset>"
            + (f'<label>Student <select name="student"><option value="">any</option>{people}</select></label> '
               if students else "")
            + (f'<label>Folder <select name="folder"><option value="">any</option>{places}</select></label>'
               if len(folders) > 1 else "")
            + "</form>")


FILTER_SCRIPT = """
(function(){var f=document.getElementById('filters');if(!f)return;
function apply(){var on={};f.querySelectorAll('input[name=verdict]').forEach(function(b){on[b.value]=b.checked;});
var s=f.elements.student?f.elements.student.value:'',d=f.elements.folder?f.elements.folder.value:'',n=0,all=0;
document.querySelectorAll('tr[data-verdict]').forEach(function(r){all++;
var ok=on[r.dataset.verdict]!==false&&(!s||r.dataset.students.split(' ').indexOf(s)>=0)&&(!d||r.dataset.folder===d);
r.hidden=!ok;if(ok)n++;});
document.getElementById('shown').textContent=n===all?'':'Showing '+n+' of '+all+' photos (filters above).';}
f.addEventListener('change',apply);apply();})();
"""


def decide_commands(item) -> list[str]:
    """The exact ``consentguard review decide`` commands for an item (one per possible answer)."""
    import shlex

    head = f"consentguard review decide {shlex.quote(item.id)}"
    if item.kind == "photo":
        return [f'{head} --cleared --by "YOUR NAME"']
    return [f'{head} {flag} {shlex.quote(str(s.get("student_number")))} --by "YOUR NAME"'
            for s in item.students for flag in ("--not", "--is")]


def _as_item(item):
    """A review item as :class:`consentguard.review.ReviewItem`, also from its JSON (a dict whose
    ``closeups``, if any, are data: URLs): the report accepts either from the scan."""
    import base64

    from consentguard.review import ReviewItem

    if not isinstance(item, dict):
        return item
    pictures = [base64.b64decode(c.split(",", 1)[1]) if c else None for c in item.get("closeups") or []]
    return ReviewItem(id=item["id"], kind=item.get("kind", "person"), summary=item.get("summary", ""),
                      students=item.get("students") or [], photos=item.get("photos") or [],
                      faces=item.get("faces") or [], reasons=item.get("reasons") or [], closeups=pictures)


def _photo_link(path: str) -> str:
    from html import escape
    from pathlib import Path
    from urllib.parse import quote

    href = Path(path).as_uri() if Path(path).is_absolute() else quote(path)
    return f'<a class="path" href="{escape(href)}">{escape(path)}</a>'


def review_section(items) -> str:
    """"Decisions to make": one block per review item, first in the report: its summary, close-ups
    of its faces (data: URIs, 128 px: a person can judge them, unlike a box on a thumbnail), the
    students in question with distances, the photos it covers and the command that decides it."""
    import base64
    from html import escape

    if not items:
        return ""
    blocks = []
    for item in map(_as_item, items):
        figures = []
        for n, face in enumerate(item.faces, 1):
            picture = item.closeups[n - 1] if n - 1 < len(item.closeups) else None
            if item.kind == "photo" or not picture:
                continue
            where = face.get("path") or "photo"
            distance = face.get("distance")
            caption = f"face {n}: {_name(where)}" + (f", distance {distance:.2f}" if distance is not None else "")
            figures.append(f'<li><figure><img alt="close-up of face {n} in {escape(_name(where))}" '
                           f'src="data:image/jpeg;base64,{base64.b64encode(picture).decode()}">'
                           f'<figcaption>{escape(caption)}</figcaption></figure></li>')
        students = "".join(
            f'<li>{escape(str(s.get("name") or "?"))} #{escape(str(s.get("student_number")))}'
            + (f', distance {s["distance"]:.2f}' if s.get("distance") is not None else "") + "</li>"
            for s in item.students)
        reasons = "".join(f"<li>{escape(r)}</li>" for r in item.reasons)
        photos = "".join(f"<li>{_photo_link(p)}</li>" for p in item.photos)
        commands = "".join(f"<li><code>{escape(c)}</code></li>" for c in decide_commands(item))
        blocks.append(
            f'<section class="item" id="item-{escape(item.id)}"><h3>{escape(item.summary)}</h3>'
            + (f'<ul class="closeups">{"".join(figures)}</ul>' if figures else
               "<p>No close-ups kept (purged): look at the photos.</p>" if item.kind != "photo" else "")
            + (f"<p>Students in question:</p><ul>{students}</ul>" if students else "")
            + (f"<ul>{reasons}</ul>" if reasons else "")
            + f"<p>Photos ({len(item.photos)}):</p><ul>{photos}</ul>"
            + f"<p>Decide (or use the page's Review tab):</p><ul>{commands}</ul></section>")
    return (f'<h2 id="decisions">Decisions to make ({len(items)})</h2><p>Each decision is made once and applies to '
            'every photo listed with it, in this scan and later ones.</p>' + "".join(blocks))


def _name(path: str) -> str:
    from pathlib import Path
    return Path(path).name


TAKEDOWN_FIELDS = ("status", "posted_on", "channel", "where", "path", "new_verdict", "students", "because",
                   "earlier_check", "checked_at", "earlier_verdict", "kept_copy")


def _takedown_rows(findings: list[dict]) -> list[list]:
    """One row per post of a finding (a finding never posted: one row, no post), in the report's order."""
    rows = []
    for f in findings:
        students = "; ".join(f"{n['name']} (#{n['student_number']}): {n['why']}" for n in f["newly_restricted"])
        for post in f["posted"] or [{}]:
            done = f.get("taken_down")
            status = (f"taken down {done['at'][:10]} by {done['by']}: {done['note']}" if done else
                      f["status"] if f["posted"] or f["status"] != "affected" else "affected, not marked posted")
            rows.append([status,
                         post.get("on", ""), post.get("channel", ""), post.get("where") or "",
                         post.get("path") or f["path"] or "", f["verdict"], students, " | ".join(f["because"]),
                         f["earlier"]["check_id"], f["earlier"]["checked_at"], f["earlier"]["verdict"],
                         f.get("kept_copy") or ""])
    return rows


def takedown_csv(report: dict, path) -> None:
    """The re-check's takedown list (``RecheckReport.to_json()``) as CSV, newest posts first."""
    import io

    out = io.StringIO()
    write_csv(out, TAKEDOWN_FIELDS, _takedown_rows(report["results"]), MAX_CELL)
    write_atomic(path, out.getvalue())


def takedown_html(report: dict, title: str = "consentguard: posts to take down") -> str:
    """The takedown list as a self-contained page for the communications office, newest posts first."""
    from html import escape

    head = "".join(f'<th scope="col">{escape(h.replace("_", " "))}</th>' for h in TAKEDOWN_FIELDS)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in _takedown_rows(report["results"]))
    empty = "" if report["results"] else "<p>Nothing to take down.</p>"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{HTML_STYLE}</style></head>'
            f'<body><h1>{escape(title)}</h1><p role="status">{escape(report["summary"])}</p>{empty}'
            f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>')
