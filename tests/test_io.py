"""Output replacement (tutorforge/core/outputs.py, core/io.py's atomic_dir): readers never see an output folder
missing, and a process killed (real SIGKILL) at any point of writing or committing leaves, after the next start's
sweep, the complete old or the complete new generation of a stage's outputs, never a mix, and no temp names.

The crash points come from tests/support/crash.py: it runs a writer in a child process whose Nth move/delete call
is a SIGKILL; each test steps N up until the writer completes, so every point of the commit is visited.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.outputs_writer import NAMES, expected, generation, write_generation
from tests.support.pages import heading_book
from tutorforge.core.io import atomic_dir, write_jsonl
from tutorforge.core.outputs import replace_outputs, sweep_outputs

ROOT = Path(__file__).parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run_crashing(n: int, module: str, *args: str, no_exchange: bool = False) -> bool:
    """Run `module` with crash point `n`; True when it completed, False when it was killed there."""
    env = {**ENV, "TF_CRASH_NO_EXCHANGE": "1"} if no_exchange else ENV
    cmd = [sys.executable, "-m", "tests.support.crash", str(n), module, *args]
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode in (0, -9), res.stderr[-3000:]
    return res.returncode == 0


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def plant_unrelated(folder: Path) -> dict[str, bytes]:
    """Things in an output folder that are no part of the output set: DVC's .gitignore, resumable checkpoints."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".gitignore").write_text("/model\n/a.txt\n")
    (folder / "checkpoints" / "checkpoint-4").mkdir(parents=True, exist_ok=True)
    (folder / "checkpoints" / "checkpoint-4" / "trainer_state.json").write_text('{"global_step": 4}')
    return unrelated(folder)


def unrelated(folder: Path) -> dict[str, bytes]:
    return {p: (folder / p).read_bytes() for p in (".gitignore", "checkpoints/checkpoint-4/trainer_state.json")}


READER = r"""
import os, sys
path, stop, ready = sys.argv[1:4]
polls = misses = 0
open(ready, "w").close()
while not os.path.exists(stop):
    try:
        os.stat(path)
    except FileNotFoundError:
        misses += 1
    polls += 1
print(polls, misses)
"""


def test_atomic_dir_swap_never_leaves_the_folder_missing(tmp_path: Path) -> None:
    """A reader process polling the folder during repeated replacements never finds it missing (the old
    rename-away-then-rename-in sequence had a window between the two renames)."""
    folder = tmp_path / "out"
    write_generation(folder, 0, dir_only=True)
    stop, ready = tmp_path / "stop", tmp_path / "ready"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(folder / "model"), str(stop), str(ready)], stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.time() + 60
        while not ready.exists():
            assert time.time() < deadline and reader.poll() is None, "reader did not start"
            time.sleep(0.01)
        for gen in range(1, 301):
            write_generation(folder, gen, dir_only=True)
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    polls, misses = map(int, out.split())
    assert polls > 1000, "the reader did not poll while the writer replaced the folder"
    assert misses == 0, f"the folder was missing in {misses} of {polls} polls"
    assert generation(folder, ("model",)) == expected(300, ("model",))
    assert listing(folder) == ["model"]


def test_atomic_dir_killed_anywhere_leaves_old_or_new_and_no_temp_names(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    write_generation(folder, 1, dir_only=True)
    keep = plant_unrelated(folder)
    old, new = expected(1, ("model",)), expected(2, ("model",))
    seen = []
    for n in itertools.count(1):
        assert n < 80, "the writer never completed"
        done = run_crashing(n, "tests.support.outputs_writer", str(folder), "2", "--dir")
        sweep_outputs(folder, ["model"])  # what the next writer of this folder does first
        state = generation(folder, ("model",))
        assert state in (old, new), f"crash point {n}: neither the old nor the new generation: {state}"
        assert listing(folder) == [".gitignore", "checkpoints", "model"], f"crash point {n}"
        assert unrelated(folder) == keep
        seen.append("new" if state == new else "old")
        if done:
            break
        write_generation(folder, 1, dir_only=True)
    assert seen[0] == "old" and seen[-1] == "new"


@pytest.mark.parametrize("no_exchange", [False, True], ids=["renameat2-exchange", "two-rename-fallback"])
def test_output_set_killed_anywhere_is_old_or_new_as_a_whole(tmp_path: Path, no_exchange: bool) -> None:
    """a.txt, model/ and odd.txt (only in odd generations) are replaced together: after a kill at any point and the
    next start's sweep, all three are of one generation (odd.txt gone exactly when the new one is in)."""
    folder = tmp_path / "out"
    write_generation(folder, 1)
    keep = plant_unrelated(folder)
    old, new = expected(1), expected(2)
    assert set(old) - set(new) == {"odd.txt"}
    seen = []
    for n in itertools.count(1):
        assert n < 120, "the writer never completed"
        done = run_crashing(n, "tests.support.outputs_writer", str(folder), "2", no_exchange=no_exchange)
        sweep_outputs(folder, NAMES)
        state = generation(folder)
        assert state in (old, new), f"crash point {n}: a mix of generations: {sorted(state.items())}"
        assert [p for p in listing(folder) if p.startswith(".")] == [".gitignore"], f"crash point {n}"
        assert unrelated(folder) == keep
        seen.append("new" if state == new else "old")
        if done:
            break
        write_generation(folder, 1)
    assert seen[0] == "old" and seen[-1] == "new" and "old" in seen and seen.count("new") > 1  # killed after commit


def test_first_run_killed_anywhere_leaves_nothing_or_everything(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    for n in itertools.count(1):
        assert n < 120, "the writer never completed"
        done = run_crashing(n, "tests.support.outputs_writer", str(folder), "3")
        sweep_outputs(folder, NAMES)
        assert generation(folder) in ({}, expected(3)), f"crash point {n}"
        assert not [p for p in listing(folder) if p.startswith(".")], f"crash point {n}"
        if done:
            break
        shutil.rmtree(folder)  # back to "never written"


def test_next_writer_sweeps_stale_temp_names_of_any_generation(tmp_path: Path) -> None:
    """Leftovers of killed runs (the old atomic_dir's .model.old / .model.*.tmp, atomic_open's .a.txt.*.tmp, an
    uncommitted staging folder) go when the next writer opens the folder; other files stay as they are."""
    folder = tmp_path / "out"
    write_generation(folder, 1)
    keep = plant_unrelated(folder)
    (folder / "notes.md").write_text("mine")
    for stale in (".model.old", ".model.k2j3h4ab.tmp", ".outputs.zz9x.txn/new/model"):
        (folder / stale).mkdir(parents=True)
        (folder / stale / "weights.bin").write_text("stale")
    (folder / ".a.txt.q1w2e3r4.tmp").write_text("half a")
    write_generation(folder, 2)
    assert generation(folder) == expected(2)
    assert listing(folder) == [".gitignore", "a.txt", "checkpoints", "model", "notes.md"]
    assert unrelated(folder) == keep


def test_live_writers_staging_survives_another_writers_sweep(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    with replace_outputs(folder, ["a.txt"]) as first:
        (first / "a.txt").write_text("first")
        with replace_outputs(folder, ["b.txt"]) as second:  # sweeps the folder on entry and on commit
            (second / "b.txt").write_text("second")
        assert (first / "a.txt").read_text() == "first"
    assert (folder / "a.txt").read_text() == "first" and (folder / "b.txt").read_text() == "second"
    assert listing(folder) == ["a.txt", "b.txt"]


def test_failed_writer_leaves_the_old_generation_and_no_staging(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    write_generation(folder, 1)
    with pytest.raises(RuntimeError, match="boom"), replace_outputs(folder, NAMES) as outs:
        (outs / "a.txt").write_text("half")
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"), atomic_dir(folder / "model") as d:
        (d / "config.json").write_text("half")
        raise RuntimeError("boom")
    assert generation(folder) == expected(1)
    assert listing(folder) == ["a.txt", "model", "odd.txt"]


def test_names_are_checked(tmp_path: Path) -> None:
    for bad in (["../a"], ["a/b"], [".hidden"], [""], ["a", "a"]):
        with pytest.raises(ValueError, match="output name"), replace_outputs(tmp_path / "o", bad):
            pass
    with pytest.raises(ValueError, match="not one of"), replace_outputs(tmp_path / "o", ["a.txt"]) as outs:
        (outs / "b.txt").write_text("typo")
    assert listing(tmp_path / "o") == []


# ---- a stage killed mid-commit: python -m stages.segment ----------------------------------------------------------


def segment_args(src: Path, out: Path, params: Path, front_matter: str) -> list[str]:
    return ["-p", str(params), "-S", f"segment.input={src}", "-S", f"segment.output={out}"] + [
        "-S",
        f"segment.front_matter={front_matter}",
    ]


def test_segment_stage_killed_mid_commit_leaves_old_or_new_outputs(tmp_path: Path) -> None:
    from stages.segment import main

    src = tmp_path / "ingest"
    write_jsonl(src / "pages.jsonl", heading_book())
    write_jsonl(src / "documents.jsonl", [])
    params = tmp_path / "params.yaml"
    params.write_text("subjects: [biology, chemistry, physics, mathematics]\nsegment:\n  min_chars: 100\n")
    out = tmp_path / "segment"
    files = ("sections.jsonl", "report.json")

    def outputs() -> tuple[bytes | None, ...]:
        return tuple((out / f).read_bytes() if (out / f).exists() else None for f in files)

    assert main(segment_args(src, out, params, "section")) == 0
    new, new_sections = outputs(), json.loads((out / "report.json").read_text())["n_sections"]
    assert main(segment_args(src, out, params, "skip")) == 0
    old, old_sections = outputs(), json.loads((out / "report.json").read_text())["n_sections"]
    assert all(a != b for a, b in zip(old, new, strict=True)) and old_sections != new_sections  # tell them apart
    (out / ".gitignore").write_text("/sections.jsonl\n")
    seen = []
    for n in itertools.count(1):
        assert n < 60, "the stage never completed"
        done = run_crashing(n, "stages.segment", *segment_args(src, out, params, "section"))
        sweep_outputs(out, files)
        state = outputs()
        assert state in (old, new), f"crash point {n}: sections.jsonl and report.json of different runs"
        assert listing(out) == [".gitignore", *sorted(files)], f"crash point {n}"
        seen.append("new" if state == new else "old")
        if done:
            break
        assert main(segment_args(src, out, params, "skip")) == 0
    assert seen[0] == "old" and seen[-1] == "new" and seen.count("new") > 1
