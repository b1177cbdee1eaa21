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
    counts = {}
    for result in results:
        counts[result.verdict] = counts.get(result.verdict, 0) + 1
    summary = ", ".join(f"{counts[v]} {v}" for v in ("block", "review", "error", "pass") if v in counts)
    lines.append(f"{len(results)} photo{'s' if len(results) != 1 else ''}: {summary}")
    return "\n".join(lines)


def json_document(results) -> str:
    return json.dumps({"format_version": FORMAT_VERSION,
                       "results": [r.to_json() for r in results]}, indent=2, ensure_ascii=False)
