"""The layers of course_lib run downward: no circles, no private names across modules, no upward
imports, and imports at the top of a file unless a comment on the line says why they are lazy.

The layer order is written down in CONTRIBUTING.md ("Layers"); this test holds the same table.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from course_lib.config import REPO_ROOT

PACKAGE = REPO_ROOT / "course_lib"

#: Lowest first. A module may import modules of its own layer or below, never above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("_validation", "config")),
    (
        "computation",
        (
            "mr_signal",
            "acquisition",
            "anatomy",
            "synthetic_spec",
            "synthetic",
            "confounds",
            "preprocessing",
            "registration",
            "metrics",
            "losses",
        ),
    ),
    ("data", ("datasets", "transforms", "data")),
    ("models", ("models", "training", "evaluation")),
    ("presentation", ("plotting", "widgets")),
    ("entry points", ("cli", "colab", "exercises", "lab", "checks")),
    ("lessons", ("lessons",)),
]
RANK = {name: rank for rank, (_, names) in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def top_level(module: str) -> str:
    """``course_lib.datasets.audit`` -> ``datasets``; ``course_lib`` -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[tuple[str, list[str]]]:
    """The course_lib modules an import statement reads, each with the names it takes."""
    found = []
    if isinstance(node, ast.Import):
        return [(a.name, []) for a in node.names if a.name.split(".")[0] == "course_lib"]
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if not MODULES[module].name == "__init__.py":
            package = package[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    if base.split(".")[0] != "course_lib":
        return []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in MODULES:
            found.append((submodule, []))
        else:
            found.append((base, [alias.name]))
    return found


def imports() -> list[tuple[str, str, list[str], ast.stmt, bool]]:
    """Every course_lib import: (importer, imported, names, node, at top level)."""
    rows = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for imported, names in resolve(module, node):
                    rows.append((module, imported, names, node, id(node) in top))
    return rows


IMPORTS = imports()


def test_every_module_has_a_layer():
    missing = sorted({top_level(m) for m in MODULES} - set(RANK) - {""})
    assert missing == [], f"add {missing} to LAYERS here and in CONTRIBUTING.md"


def test_contributing_lists_the_same_layers():
    text = (REPO_ROOT / "CONTRIBUTING.md").read_text()
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    items = re.split(r"\n(?=\d+\. )", section)  # a numbered item with its wrapped lines
    for rank, (name, modules) in enumerate(LAYERS):
        line = next((item for item in items if item.startswith(f"{rank + 1}. ")), "")
        assert name in line, f"layer {rank + 1} ({name}) missing from CONTRIBUTING.md"
        for module in modules:
            assert f"`{module}`" in line, f"{module} missing from layer {name} in CONTRIBUTING"


def test_imports_run_downward():
    upward = [
        f"{a} imports {b}"
        for a, b, _, _, _ in IMPORTS
        if top_level(a) and top_level(b) and RANK[top_level(b)] > RANK[top_level(a)]
    ]
    assert upward == []


def test_nothing_in_the_library_imports_the_lessons():
    offenders = [
        f"{a} imports {b}"
        for a, b, _, _, _ in IMPORTS
        if top_level(b) == "lessons" and top_level(a) != "lessons"
    ]
    assert offenders == []


def test_no_import_circles():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for a, b, _, _, _ in IMPORTS:
        if b in graph and a != b and not b.startswith(a + "."):  # a package may import its parts
            graph[a].add(b)
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for child in sorted(graph[node]):
            if state.get(child) == 1:
                cycles.append(" -> ".join(stack[stack.index(child) :] + [child]))
            elif child not in state:
                visit(child, [*stack, child])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_private_names_across_modules():
    private = [
        f"{a} imports {name} from {b}"
        for a, b, names, _, _ in IMPORTS
        for name in names
        if name.startswith("_") and b != a
    ]
    assert private == []


LAZY = re.compile(r"#.*\blazy\b", re.IGNORECASE)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_are_at_the_top_unless_a_comment_says_why(module):
    path = MODULES[module]
    lines = path.read_text().splitlines()
    tree = ast.parse("\n".join(lines))
    top = {id(node) for node in tree.body}
    unexplained = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
            here, k = lines[node.lineno - 1], node.lineno - 2
            while k >= 0 and lines[k].strip().startswith(("import ", "from ", ")", "    ")):
                if not lines[k].strip().startswith(("import ", "from ", ")")):
                    break
                k -= 1  # a block of imports shares the comment above its first line
            above = lines[k] if k >= 0 else ""
            if not (LAZY.search(here) or LAZY.search(above)):
                unexplained.append(f"{path.name}:{node.lineno}: {here.strip()}")
    assert unexplained == [], "move these to the top, or say '# lazy: <why>' on the line"
