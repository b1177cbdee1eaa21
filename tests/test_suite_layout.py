"""The test suite's own layout: test modules never import each other or scripts/ (a helper two
modules need lives in tests/helpers/ or tests/conftest.py; a script is run as a subprocess), so
that each test module runs alone, in any order, without another module's import side effects."""

import ast

from conftest import ROOT

TESTS = ROOT / "tests"
SCRIPTS = {p.stem for p in (ROOT / "scripts").glob("*.py")}


def imported(tree: ast.AST):
    """(line, top-level module name) of every import in ``tree``, wherever it is."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def scripts_on_path(tree: ast.AST):
    """Lines that put scripts/ on sys.path (sys.path.insert / append with 'scripts' in the call)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("insert", "append") and "sys.path" in ast.unparse(node.func) and \
                "scripts" in ast.unparse(node):
            yield node.lineno


def problems(folder=TESTS) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        where = path.relative_to(folder)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, name in imported(tree):
            if name.startswith("test_"):
                found.append(f"{where}:{line} imports the test module {name}: move what it needs to tests/helpers/")
            elif name in SCRIPTS:
                found.append(f"{where}:{line} imports scripts/{name}.py: move the code into the package or "
                             "run the script as a subprocess")
        for line in scripts_on_path(tree):
            found.append(f"{where}:{line} puts scripts/ on sys.path")
    return found


def test_test_modules_do_not_import_each_other_or_scripts():
    assert problems() == []


def test_the_check_finds_each_kind(tmp_path):
    (tmp_path / "test_a.py").write_text("from test_web import start_server\n")
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "b.py").write_text("def f():\n    import test_review\n")
    (tmp_path / "test_c.py").write_text("import sys\nsys.path.insert(0, str(ROOT / 'scripts'))\nimport calibrate\n")
    (tmp_path / "test_d.py").write_text("from helpers.photos import distant\nfrom conftest import R\n")
    assert problems(tmp_path) == [
        "helpers/b.py:2 imports the test module test_review: move what it needs to tests/helpers/",
        "test_a.py:1 imports the test module test_web: move what it needs to tests/helpers/",
        "test_c.py:3 imports scripts/calibrate.py: move the code into the package or run the script as a subprocess",
        "test_c.py:2 puts scripts/ on sys.path",
    ]
