"""Checkpoints and automatic resume, the same for pretrain and sft: a run fingerprint decides what may be resumed.

    fp = run_fingerprint(config_dict(cfg), exclude={"output", "logging_steps", ...}, files=[train_jsonl, ...])
    resume_from = prepare_resume(out / "checkpoints", fp, resume=cfg.resume, is_main=dist["is_main"])
    trainer.train(resume_from_checkpoint=resume_from)

`<ckpt_dir>/run.json` holds the fingerprint of the run that wrote the checkpoints: `{"fingerprint": "3f0c..."}`.
A rerun with the same fingerprint resumes from the newest COMPLETE `checkpoint-<step>` (step counter, optimizer,
scheduler and RNG included); any other rerun clears the stale checkpoints first. Each stage chooses which config
fields and which input files make up its fingerprint; the fingerprint only decides resuming, never the weights.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tutorforge.core.ids import sha256_file, stable_id
from tutorforge.core.io import dumps, read_json, write_json
from tutorforge.core.logs import get_logger

log = get_logger(__name__)

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
FINGERPRINT_FILE = "run.json"


# The code that turns inputs + config into weights (DVC reruns the stages when it changes: dvc.yaml deps)
CODE_DIRS = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "core")


def code_digest(dirs: Iterable[str | Path] | None = None) -> str:
    """Hash of the *.py files under `dirs` (default CODE_DIRS; relative path + content, sorted)."""
    parts = []
    for d in CODE_DIRS if dirs is None else dirs:
        root = Path(d)
        parts += [f"{root.name}/{p.relative_to(root)}:{sha256_file(p)}" for p in sorted(root.rglob("*.py"))]
    return stable_id(*parts, length=32)


def run_fingerprint(config: Mapping[str, Any], exclude: Iterable[str], files: Iterable[str | Path]) -> str:
    """Hash of what determines the trained weights: `config` without the `exclude` keys, the content hash of each of
    `files` (in the given order; a missing file counts as "-"), and the training code (code_digest): a run never
    resumes checkpoints that other code wrote (a changed loss, packing or data pipeline), whereas DVC reruns the stage
    on a code change and would otherwise get the old run's finished checkpoint back."""
    dropped = set(exclude)
    conf = {k: v for k, v in config.items() if k not in dropped}
    hashes = [sha256_file(p) if Path(p).is_file() else "-" for p in files]
    return stable_id(dumps(conf), *hashes, code_digest(), length=32)


def find_resume_checkpoint(checkpoint_dir: str | Path) -> str | None:
    """Newest COMPLETE `checkpoint-<step>` dir under `checkpoint_dir` (has trainer_state.json), or None.

    A checkpoint half-written when a run was killed lacks trainer_state.json (Trainer writes it last) and is skipped,
    so the run resumes from the previous good one.
    """
    root = Path(checkpoint_dir)
    if not root.is_dir():
        return None
    found = []
    for p in root.iterdir():
        m = CHECKPOINT_RE.match(p.name)
        if m and p.is_dir() and (p / "trainer_state.json").is_file():
            found.append((int(m.group(1)), p))
    return str(max(found)[1]) if found else None


def prepare_resume(ckpt_dir: str | Path, fingerprint: str, resume: bool, is_main: bool = True) -> str | None:
    """The checkpoint to resume from: the newest complete one of the run with this `fingerprint` (when `resume`).
    Otherwise None, after the main process cleared `ckpt_dir` (stale checkpoints of another run, or of this run when
    not resuming). The main process then records `fingerprint` in `ckpt_dir/run.json`."""
    ckpt_dir = Path(ckpt_dir)
    run_file = ckpt_dir / FINGERPRINT_FILE
    same = run_file.is_file() and read_json(run_file).get("fingerprint") == fingerprint
    last = find_resume_checkpoint(ckpt_dir) if same and resume else None
    if is_main and not last and ckpt_dir.exists():
        log.info("no resumable checkpoint of this run: clearing %s", ckpt_dir)
        shutil.rmtree(ckpt_dir)
    if is_main:
        write_json(run_file, {"fingerprint": fingerprint})
    return last
