"""dvc.yaml's code deps are complete and by domain folder: every project file a stage can import (statically, lazy
imports inside functions included) lies under one of the stage's deps, and every code dep folder is really used.

A stage whose deps miss code it runs would not rerun when that code changes (stale outputs); a dep it does not use
reruns it for nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
CODE_ROOTS = ("tutorforge", "stages")


def module_file(name: str) -> Path | None:
    """The project file of a dotted module name (package -> its __init__.py), or None if not ours."""
    if name.split(".")[0] not in CODE_ROOTS:
        return None
    base = ROOT.joinpath(*name.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def imported_modules(path: Path) -> set[str]:
    """Dotted names of everything `path` imports, anywhere in the file (function-level imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}  # `from pkg import submodule`
    return names


def closure(start: Path) -> set[Path]:
    """`start` and every project file reachable from it by imports, with the packages those imports execute."""
    seen: set[Path] = set()
    todo = [start]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for name in imported_modules(f):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__, then a/b/c
                target = module_file(".".join(parts[:i]))
                if target is not None and target not in seen:
                    todo.append(target)
    return seen


def is_code(path: Path) -> bool:
    """False for files that hold only a docstring (package markers): they cannot change what a stage computes."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in body)


def code_deps(stage: dict) -> list[Path]:
    deps = [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps") or []]
    return [ROOT / d for d in deps if d.split("/")[0] in CODE_ROOTS]


def covered(path: Path, deps: list[Path]) -> bool:
    return any(path == d or d in path.parents for d in deps)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_code_deps_cover_every_import_and_nothing_more(name: str) -> None:
    stage = STAGES[name]
    entry = ROOT / "stages" / f"{name}.py"
    assert stage["cmd"] == f"python -m stages.{name}", "one stage = one thin module in stages/"
    files = {f for f in closure(entry) if is_code(f)}
    deps = code_deps(stage)
    missing = sorted(str(f.relative_to(ROOT)) for f in files if not covered(f, deps))
    assert missing == [], f"{name}: dvc.yaml deps miss code the stage imports"
    unused = sorted(str(d.relative_to(ROOT)) for d in deps if not any(covered(f, [d]) for f in files))
    assert unused == [], f"{name}: dvc.yaml lists code deps the stage never imports"
    for d in deps:  # by domain folder: a stage depends on whole domains, or on its own stage module
        assert d.is_dir() or d == entry, f"{name}: code dep {d.relative_to(ROOT)} should be its domain folder"


def test_closure_follows_lazy_imports(tmp_path: Path) -> None:
    """The analysis itself: a function-level import is found (a stage's lazy torch-side imports must count)."""
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from tutorforge.eval import lmscore\n    return lmscore\n")
    assert "tutorforge.eval.lmscore" in imported_modules(src)
    assert ROOT / "tutorforge" / "eval" / "lmscore.py" in closure(src)
