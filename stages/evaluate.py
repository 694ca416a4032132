"""evaluate: every model of `evaluate.models` side by side on the frozen tutor benchmark, MMLU (forgetting guard),
subject classification against the teachers' labels and the dataset's held-out split.

    python -m stages.evaluate                                    # params.yaml [evaluate] (profile cpu: untuned SmolLM2
                                                                 #   vs artifacts/sft/merged)
    python -m stages.evaluate -S evaluate.profile=tiny           # the from-scratch models (pretrain/model vs sft/merged)
    python -m stages.evaluate -S evaluate.models.continued.path=artifacts/pretrain/model -S evaluate.output_dir=/tmp/e
    dvc repro --single-item evaluate

Every input is checked before a model is loaded: the benchmark (hashes, schema: a folder edited in place fails), the
held-out split, each model and tokenizer folder, the MMLU file and the labels. Outputs go to `evaluate.output_dir`,
replaced together (core/outputs.py): metrics.json (DVC metrics, with the benchmark's version and digest), perf.json
(wall-clock latency, tokens/s, peak RSS), plots/{loss_curves,eval_loss_curves,per_subject}.json, report.md and
samples.jsonl. A failure leaves the previous outputs as they were.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.core.io import RecordError, read_jsonl
from tutorforge.core.logs import get_logger
from tutorforge.core.records import read_records
from tutorforge.core.stage import StageError, stage_main
from tutorforge.eval.benchmark import BenchmarkError, load_benchmark
from tutorforge.eval.choices import pick
from tutorforge.eval.evaluate import EvaluateConfig, evaluate_models
from tutorforge.eval.mmlu import MMLUError, mmlu_file, read_mmlu, sample_mmlu
from tutorforge.eval.report import write_outputs
from tutorforge.eval.subject_classification import labeled_sections
from tutorforge.training.models import local_dir_problem

SECTION = "evaluate"
log = get_logger("stages.evaluate")


def _heldout(cfg: EvaluateConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(textbook docs, chat examples) of the held-out split, checked."""
    if not cfg.heldout:
        return [], []
    paths = {kind: Path(cfg.dataset_dir) / kind / f"{cfg.split}.jsonl" for kind in ("pretrain", "sft")}
    for path in paths.values():
        if not path.exists():
            raise StageError(
                f"no held-out split {path} (split={cfg.split!r}; run the dataset stage, pick "
                "-S evaluate.split=test|validation, or -S evaluate.heldout=false)"
            )
    docs = read_records(paths["pretrain"], "text")
    examples = read_records(paths["sft"], "example")
    for path, records in ((paths["pretrain"], docs), (paths["sft"], examples)):
        if not records:
            raise StageError(f"{path} holds no records (run the dataset stage)")
    return docs, examples


def run(cfg: EvaluateConfig) -> dict[str, Any]:
    """Evaluate every model and write the outputs; returns the metrics."""
    try:
        bench = load_benchmark(cfg.benchmark)
        docs, examples = _heldout(cfg)
        for log_path in (cfg.pretrain_log, cfg.sft_log):  # read for the plots at the end: checked before the models run
            if Path(log_path).is_file():
                list(read_jsonl(log_path))
    except (BenchmarkError, RecordError) as e:
        raise StageError(str(e)) from None
    for name, spec in cfg.active().items():
        tok = ("tokenizer", spec.tokenizer) if spec.tokenizer else ("path", spec.path)  # "": the model's own
        for key, value, needs in (("path", spec.path, "config.json"), (*tok, "tokenizer_config.json")):
            if problem := local_dir_problem(value, needs):
                raise StageError(f"evaluate.models.{name}.{key}: {problem}")
    notes: list[str] = []
    try:
        mmlu = {}
        if cfg.mmlu_max_per_subject and cfg.mmlu_subjects:
            mmlu = sample_mmlu(
                read_mmlu(mmlu_file(cfg.mmlu_path)), cfg.mmlu_subjects, cfg.mmlu_max_per_subject, cfg.seed
            )
        labeled, note = (
            labeled_sections(cfg.labels, cfg.sections, cfg.subjects) if cfg.max_subject_items else ([], None)
        )
    except (MMLUError, RecordError) as e:
        raise StageError(str(e)) from None
    if note:
        log.warning("%s", note)
        notes.append(note)
    inputs = {"docs": docs, "examples": examples, "bench": bench, "mmlu": mmlu, "notes": notes,
              "labeled": pick(labeled, cfg.max_subject_items, cfg.seed, "subjects")}  # fmt: skip
    result = evaluate_models(cfg, inputs)
    write_outputs(cfg, result)
    log.info("wrote %s", cfg.output_dir)
    return result["metrics"]


def main(argv: list[str] | None = None) -> int:
    return stage_main(EvaluateConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
