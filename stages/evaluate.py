"""evaluate: the pretrained (base) and the SFT model side by side on a held-out split of the dataset.

    python -m stages.evaluate                                             # params.yaml [evaluate], split "test"
    python -m stages.evaluate -S evaluate.split=validation -S evaluate.output_dir=/tmp/eval
    python -m stages.evaluate -S evaluate.base_model=artifacts/pretrain/model -S evaluate.sft_model=artifacts/sft/merged
    dvc repro --single-item evaluate

Reads `evaluate.dataset_dir`/{pretrain,sft}/<split>.jsonl (text and example records), scores both models on the same
token sequences (tutorforge/eval/evaluate.py) and writes into `evaluate.output_dir`, replaced together
(core/outputs.py): metrics.json (DVC metrics), perf.json (wall-clock latency and tokens/s),
plots/{loss_curves,eval_loss_curves,per_subject}.json, report.md and samples.jsonl. A missing split fails the stage
and leaves the previous outputs as they were.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.core.io import read_jsonl
from tutorforge.core.logs import get_logger
from tutorforge.core.records import RecordError, read_records
from tutorforge.core.stage import StageError, stage_main
from tutorforge.eval.evaluate import EvaluateConfig, evaluate_models
from tutorforge.eval.report import write_outputs
from tutorforge.training.models import local_dir_problem

SECTION = "evaluate"
log = get_logger("stages.evaluate")


def run(cfg: EvaluateConfig) -> dict[str, Any]:
    """Evaluate both models on cfg.split and write the outputs; returns the metrics."""
    paths = {kind: Path(cfg.dataset_dir) / kind / f"{cfg.split}.jsonl" for kind in ("pretrain", "sft")}
    for path in paths.values():
        if not path.exists():
            raise StageError(
                f"no held-out split {path} (split={cfg.split!r}; run the dataset stage or pick "
                "-S evaluate.split=test|validation)"
            )
    try:
        docs = read_records(paths["pretrain"], "text")
        examples = read_records(paths["sft"], "example")
        for log_path in (cfg.pretrain_log, cfg.sft_log):  # read for the plots at the end: checked before the models run
            if Path(log_path).is_file():
                list(read_jsonl(log_path))
    except RecordError as e:
        raise StageError(str(e)) from None
    for path, records in ((paths["pretrain"], docs), (paths["sft"], examples)):
        if not records:
            raise StageError(f"{path} holds no records (run the dataset stage)")
    dirs = [("base_model", cfg.base_model, "config.json"), ("sft_model", cfg.sft_model, "config.json")]
    if Path(cfg.tokenizer).exists():  # missing: the base model's tokenizer (EvaluateConfig.tokenizer)
        dirs.append(("tokenizer", cfg.tokenizer, "tokenizer_config.json"))
    for key, value, needs in dirs:
        problem = local_dir_problem(value, needs)
        if problem:
            raise StageError(f"evaluate.{key}: {problem}")
    result = evaluate_models(cfg, docs, examples)
    write_outputs(cfg, result)
    log.info("wrote %s", cfg.output_dir)
    return result["metrics"]


def main(argv: list[str] | None = None) -> int:
    return stage_main(EvaluateConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
