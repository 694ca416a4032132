"""Write one recognisable generation of outputs into a folder, for the crash tests of tutorforge/core/outputs.py.

    python -m tests.support.outputs_writer FOLDER GEN          # replace_outputs: a.txt, model/, odd.txt (odd GEN)
    python -m tests.support.outputs_writer FOLDER GEN --dir    # atomic_dir(FOLDER/model) only

`generation(folder)` reads back what is there: {relative path: text} of the declared outputs, so a test can compare
a folder with `expected(gen)`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tutorforge.core.io import atomic_dir, atomic_open
from tutorforge.core.outputs import replace_outputs

NAMES = ("a.txt", "model", "odd.txt")
MODEL_FILES = ("config.json", "weights.bin", "tokenizer.json")


def expected(gen: int, names: tuple[str, ...] = NAMES) -> dict[str, str]:
    """{relative path: text} of generation `gen` (odd.txt exists in odd generations only)."""
    files = {f"model/{f}": f"{f} of generation {gen}\n" for f in MODEL_FILES}
    if "a.txt" in names:
        files["a.txt"] = f"a of generation {gen}\n"
    if "odd.txt" in names and gen % 2:
        files["odd.txt"] = f"odd generation {gen}\n"
    return files


def generation(folder: Path, names: tuple[str, ...] = NAMES) -> dict[str, str]:
    """What the declared outputs of `folder` hold now."""
    found: dict[str, str] = {}
    for name in names:
        p = folder / name
        for f in sorted(p.rglob("*")) if p.is_dir() else [p] if p.exists() else []:
            if f.is_file():
                found[str(f.relative_to(folder))] = f.read_text()
    return found


def write_model(d: Path, gen: int) -> None:
    for f in MODEL_FILES:
        (d / f).write_text(f"{f} of generation {gen}\n")


def write_generation(folder: Path, gen: int, dir_only: bool = False) -> None:
    """Replace the outputs of `folder` with generation `gen` (the model dir alone with `dir_only`)."""
    if dir_only:
        with atomic_dir(folder / "model") as d:
            write_model(d, gen)
        return
    with replace_outputs(folder, NAMES) as outs:
        (outs / "model").mkdir()
        write_model(outs / "model", gen)
        with atomic_open(outs / "a.txt") as f:  # a temp name + rename inside the staging folder, too
            f.write(f"a of generation {gen}\n")
        if gen % 2:
            (outs / "odd.txt").write_text(f"odd generation {gen}\n")


def main() -> None:
    write_generation(Path(sys.argv[1]), int(sys.argv[2]), "--dir" in sys.argv[3:])


if __name__ == "__main__":
    main()
