"""Report: turn check results into the human listing or the public JSON document.

The JSON document is a public interface (see README, "JSON output"): fields are
only ever added, never renamed or removed, and ``format_version`` says which.
"""

from __future__ import annotations

import json

FORMAT_VERSION = 1

LABEL = {"block": "BLOCK", "review": "REVIEW", "pass": "PASS", "error": "ERROR"}


def human_lines(result) -> list[str]:
    """One line with the verdict, then one indented line per reason."""
    doc = result.to_json()
    faces = len(doc["faces"])
    head = f"{LABEL[doc['verdict']]:<6}  {doc['path']}"
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
    counts = {}
    for result in results:
        counts[result.verdict] = counts.get(result.verdict, 0) + 1
    summary = ", ".join(f"{counts[v]} {v}" for v in ("block", "review", "error", "pass") if v in counts)
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


def write_csv(results: list[dict], path) -> None:
    """One row per photo, worst first; reasons joined with ' | '."""
    import csv
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        for doc in results:
            writer.writerow([doc["verdict"], doc["path"], len(doc["faces"]), " ".join(doc["student_numbers"]),
                             " | ".join(doc["reasons"]), doc["sha256"] or ""])


HTML_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1d1d1f;max-width:70rem}
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ccc;padding:.5rem;vertical-align:top;text-align:left}
.v{font-weight:700;padding:.15rem .5rem;border-radius:.25rem;color:#fff;white-space:nowrap}
.block{background:#b3261e}.review{background:#8a5300}.error{background:#5d5d5d}.pass{background:#1e6b34}
img{max-width:360px;height:auto;display:block}ul{margin:0;padding-left:1.1rem}
.path{font-family:ui-monospace,monospace;word-break:break-all}
"""


def html_report(scan_results, title: str) -> str:
    """A self-contained page (no external files): thumbnails with face boxes, worst first."""
    import base64
    from html import escape

    counts: dict[str, int] = {}
    for r in scan_results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    summary = ", ".join(f"{counts[v]} {v}" for v in ("block", "review", "error", "pass") if v in counts)
    rows = []
    for r in scan_results:
        doc = r.doc
        img = (f'<img alt="{escape(_name(doc["path"]))} with face boxes: red blocked, orange review, green pass" '
               f'src="data:image/jpeg;base64,{base64.b64encode(r.thumbnail).decode()}">' if r.thumbnail else "")
        reasons = "".join(f"<li>{escape(x)}</li>" for x in doc["reasons"]) or "<li>no restricted student found</li>"
        rows.append(f'<tr><td><span class="v {doc["verdict"]}">{LABEL[doc["verdict"]]}</span></td>'
                    f'<td>{img}<div class="path">{escape(doc["path"])}</div></td><td><ul>{reasons}</ul></td></tr>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{HTML_STYLE}</style></head>'
            f'<body><h1>{escape(title)}</h1><p>{len(scan_results)} photos: {escape(summary)}. Worst first.</p>'
            f'<table><thead><tr><th scope="col">Verdict</th><th scope="col">Photo</th>'
            f'<th scope="col">Reasons</th></tr></thead><tbody>{"".join(rows)}</tbody></table></body></html>')


def _name(path: str) -> str:
    from pathlib import Path
    return Path(path).name
