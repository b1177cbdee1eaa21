"""The package's layout rules (issue #13), read from its source: SQL lives in ``consentguard/store/``
only, every module imports on its own in a fresh interpreter, and no two modules import each
other (directly or through others), lazy imports inside functions included."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "consentguard"
STORE = PACKAGE / "store"

#: SQL in a string: the statements the code runs (a message that says "update" in words is not one).
SQL = re.compile(r"\b(SELECT\b.+\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"CREATE\s+(TABLE|INDEX|TRIGGER)|ALTER\s+TABLE|DROP\s+TABLE|PRAGMA\s+\w+)", re.S)
#: Methods that run SQL or reach a table through a connection (sqlite3 or sqlite-utils).
SQL_METHODS = {"execute", "executemany", "executescript", "query", "table", "rows_where", "create_table"}


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _connection_like(node: ast.AST) -> bool:
    """``db``, ``conn``, ``self.db``, ``checker.db``...: a name that holds a connection."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name in ("db", "conn", "connection", "database", "cursor") or name.endswith("_db")


def sql_uses(path: Path) -> list[str]:
    """Where a module holds SQL: SQL in a string, a statement run on a connection, or a sqlite-utils
    table reached by ``db[...]``."""
    found, shown = [], path.relative_to(PACKAGE.parent) if PACKAGE.parent in path.parents else path
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        where = f"{shown}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"{where}: SQL in a string: {node.value.strip()[:60]!r}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in SQL_METHODS and _connection_like(node.func.value)):
            found.append(f"{where}: .{node.func.attr}() on a connection")
        elif isinstance(node, ast.Subscript) and _connection_like(node.value):
            found.append(f"{where}: a table reached by subscript (sqlite-utils)")
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` imports anywhere in its source (top level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:  # "from pkg import module" needs the module; "from module import name" the module
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in out if m in known and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: one path per strongly connected group of two or more modules."""
    order, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's algorithm
        order[node] = low[node] = len(order)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in order:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], order[other])
        if low[node] == order[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return groups


def test_sql_only_in_the_store():
    outside = [p for p in modules().values() if STORE not in p.parents]
    assert len(outside) > 30
    found = [use for path in outside for use in sql_uses(path)]
    assert not found, "SQL outside consentguard/store/ (move it into a storage function):\n" + "\n".join(found)


def test_the_sql_finder_finds_sql(tmp_path):
    """The check above sees each kind of SQL it looks for (a finder that finds nothing proves nothing)."""
    source = tmp_path / "m.py"
    source.write_text(
        'def f(db, checker):\n'
        '    db.execute("SELECT id FROM checks WHERE id = ?", [1])\n'
        '    db["portraits"].upsert({"a": 1}, pk="a")\n'
        '    checker.db.query("x")\n'
        '    sql = "UPDATE portraits SET encoding = NULL"\n'
        '    return "update the roster, then select a photo from the folder"\n')
    found = sql_uses(source)
    assert len(found) == 5, found  # the SELECT string and its execute, the subscript, the query, the UPDATE
    assert not any("update the roster" in f for f in found)


def test_no_import_cycles():
    known = modules()
    graph = {name: imports(name, path, set(known)) for name, path in known.items()}
    assert graph["consentguard.store.audit"] and "consentguard.store.db" not in graph["consentguard.store.audit"]
    assert "consentguard.store.audit" not in graph["consentguard.store.db"]
    found = cycles(graph)
    assert not found, "modules that import each other (directly or through others):\n" + "\n".join(
        " <-> ".join(group) for group in found)


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", sorted(m for m in modules() if not m.endswith("__main__")))  # that one runs
def test_each_module_imports_on_its_own(module):
    """``python -c "import X"`` in a fresh interpreter: no module works only when another was imported first."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_one_worker_start_up():
    """The scan and the web page start their worker processes with one function (thread counts,
    memory cap, ending with the parent, the Checker, the models): no second copy anywhere."""
    from consentguard import web
    from consentguard.runners import scan

    start_up = {"setNumThreads", "limit_worker_memory", "exit_with_parent"}
    for name, path in modules().items():
        if name == "consentguard.runners.workers":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = {getattr(node.func, "attr", getattr(node.func, "id", "")) for node in ast.walk(tree)
                 if isinstance(node, ast.Call)}
        assert not calls & start_up, f"{name} starts a worker itself: use consentguard.runners.workers.init_worker"
    assert scan.init_worker is web.init_worker
