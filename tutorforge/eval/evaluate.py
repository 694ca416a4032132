"""Evaluate the pretrained (base) and the SFT model side by side on a held-out split (the evaluate stage's library).

    result = evaluate_models(cfg, docs, examples)   # docs: dataset pretrain/{split}.jsonl, examples: sft/{split}.jsonl
    tutorforge.eval.report.write_outputs(cfg, result)

Both models see exactly the same token sequences (one tokenizer, one chat template) and are scored by:
  perplexity     exp(token-weighted mean NLL) of held-out textbook text (each document framed by EOS, as pretrain
                 packs it), sliding windows (block_size, stride)
  answer_loss    token-weighted mean NLL of the assistant answer tokens given the chat-formatted prompt
  rouge_l, exact_match, fk_grade   of greedy answers to held-out questions (kinds in `generate_kinds`)
  mc_accuracy    option picked by the highest (length-normalised) log-likelihood on held-out MC items
  socratic_rate  share of Socratic-prompt responses asking a guiding question without stating the hidden answer
  tool_call_validity / tool_name_match   on tool_call items
Text metrics are local `evaluate` modules (tutorforge/eval/metrics/*), loaded by path, offline. Every metric is also
broken down per subject. What is written (stages/evaluate.py, tutorforge/eval/report.py): metrics.json
(deterministic DVC metrics), perf.json (latency p50/p95, tokens/s: wall-clock, so kept out of metrics.json),
plots/{loss_curves,eval_loss_curves,per_subject}.json, report.md, samples.jsonl.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tutorforge.core.config import Fraction, NonNegInt, PositiveInt, section
from tutorforge.core.logs import get_logger, progress
from tutorforge.eval.report import loss_curve_rows, per_subject_rows

log = get_logger("tutorforge.eval.evaluate")
METRICS_DIR = Path(__file__).resolve().parent / "metrics"
SOCRATIC_REFERENCE_KEYS = ("reference_answer", "withheld_answer", "hidden_answer", "answer", "reference")


@section("evaluate")
@dataclass
class EvaluateConfig:
    base_model: str = "artifacts/pretrain/model"
    """Pretrained model (HF dir)."""
    sft_model: str = "artifacts/sft/merged"
    """SFT model with the LoRA merged (HF dir)."""
    tokenizer: str = "artifacts/tokenizer"
    """Tokenizer (with chat template) used for BOTH models; falls back to the base model dir when missing."""
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
    max_ppl_tokens: NonNegInt = 32768
    """Cap on scored textbook tokens (documents in seeded order, the last one cut)."""
    max_answer_items: NonNegInt = 256
    """Cap on examples scored for answer_loss."""
    generate_kinds: list[str] = field(default_factory=lambda: ["qa", "definition", "cloze", "why"])
    """Example kinds whose greedy answers get ROUGE-L / exact match / FK grade."""
    max_generate_items: NonNegInt = 24
    """Cap on those generated answers."""
    max_socratic_items: NonNegInt = 16
    """Cap on Socratic prompts generated for socratic_rate."""
    max_tool_items: NonNegInt = 8
    """Cap on tool_call prompts generated for tool-call validity."""
    max_mc_items: NonNegInt = 64
    """Cap on multiple-choice items."""
    mc_length_norm: Literal["tokens", "chars", "none"] = "tokens"
    """Option log-likelihood normalisation: tokens (mean per token), chars (per character) or none (sum)."""
    max_new_tokens: PositiveInt = 48
    """Greedy decoding length cap."""
    batch_size: PositiveInt = 8
    """Batch size for scoring and generation."""
    socratic_leak_threshold: Fraction = 0.8
    """A response 'states the answer' when it covers >= this share of the reference tokens in order."""
    rouge_stemmer: bool = False
    """Porter stemming in ROUGE-L."""
    report_samples: NonNegInt = 6
    """Sample answers shown side by side in report.md."""
    torch_threads: NonNegInt = 0
    """CPU threads for torch (0 = torch's default); 1 is fastest for tiny models on a busy machine."""
    seed: int = 1337
    """Seeds item sampling and torch."""

    def __post_init__(self) -> None:
        if self.stride >= self.block_size:
            raise ValueError(f"evaluate.stride: must be < evaluate.block_size ({self.stride} >= {self.block_size})")


def pick(records: list[dict[str, Any]], n: int, seed: int, salt: str) -> list[dict[str, Any]]:
    """A seeded sample of at most n records (file order in, stable order out)."""
    idx = list(range(len(records)))
    random.Random(f"{seed}:{salt}").shuffle(idx)
    return [records[i] for i in sorted(idx[:n])]


def choose_option(scores: list[tuple[float, int]], char_lens: list[int], norm: str = "tokens") -> int:
    """Index of the option with the highest log-likelihood (ties -> lowest index); scores are (sum NLL, n tokens)."""
    if norm not in {"tokens", "chars", "none"}:
        raise ValueError(f"mc_length_norm must be tokens|chars|none, got {norm!r}")
    denom = {
        "tokens": [max(n, 1) for _, n in scores],
        "chars": [max(c, 1) for c in char_lens],
        "none": [1] * len(scores),
    }[norm]
    lls = [-nll / d for (nll, _), d in zip(scores, denom, strict=True)]
    return max(range(len(lls)), key=lambda i: (lls[i], -i))


def fk_grade(text: str) -> float:
    """Flesch-Kincaid grade with textstat's formula and counters, syllables from pyphen's en_US dictionary.

    (textstat's default "en_US" path needs NLTK's cmudict and tries to download it at run time: no network here.)
    """
    from textstat.backend import metrics

    return float(metrics.flesch_kincaid_grade(text, "en-US"))


def first_tool_call(messages: list[dict[str, Any]]) -> int:
    """Index of the first assistant message carrying tool_calls, or -1."""
    return next((i for i, m in enumerate(messages) if m.get("role") == "assistant" and m.get("tool_calls")), -1)


def tool_name(call: dict[str, Any]) -> str:
    return str((call.get("function") or call).get("name") or "")


def socratic_reference(record: dict[str, Any]) -> str:
    meta = record.get("meta") or {}
    return next((str(meta[k]) for k in SOCRATIC_REFERENCE_KEYS if meta.get(k)), "")


def build_tasks(cfg: EvaluateConfig, tok: Any, docs: list[dict], examples: list[dict], max_len: int) -> dict[str, list]:
    """Tokenise everything once (model-independent): the same sequences are scored by both models."""
    from tutorforge.eval.lmscore import chat_prompt_answer, encode, render_chat, sliding_windows

    tasks: dict[str, list] = {"ppl": [], "answer": [], "mc": [], "gen": []}
    block = min(cfg.block_size, max_len)
    budget = cfg.max_ppl_tokens
    sep = [tok.eos_token_id] if tok.eos_token_id is not None else []  # documents framed by EOS, as pretrain packs them
    for doc in pick(docs, len(docs), cfg.seed, "ppl"):
        if budget <= 0:
            break
        ids = (sep + encode(tok, doc["text"]) + sep)[: budget + 1]
        windows = sliding_windows(ids, block, min(cfg.stride, block - 1))
        budget -= sum(sum(m) for _, m in windows)
        tasks["ppl"] += [{"subject": doc.get("subject", "unknown"), "seq": w} for w in windows]

    def fit(prompt_ids: list[int], answer_ids: list[int]) -> tuple[list[int], list[bool]]:
        answer_ids = answer_ids[: max_len - 1]
        prompt_ids = prompt_ids[-(max_len - len(answer_ids)) :]
        return prompt_ids + answer_ids, [False] * len(prompt_ids) + [True] * len(answer_ids)

    ends_with_answer = [e for e in examples if e["messages"] and e["messages"][-1].get("role") == "assistant"]
    for ex in pick(ends_with_answer, cfg.max_answer_items, cfg.seed, "answer"):
        prompt, answer = chat_prompt_answer(tok, ex["messages"])
        tasks["answer"].append(
            {"subject": ex.get("subject", "unknown"), "seq": fit(encode(tok, prompt), encode(tok, answer))}
        )
    mc_items = [e for e in examples if e.get("kind") == "mc" and e["messages"] and (e.get("meta") or {}).get("options")]
    for ex in pick(mc_items, cfg.max_mc_items, cfg.seed, "mc"):
        msgs = ex["messages"][:-1] if ex["messages"][-1].get("role") == "assistant" else ex["messages"]
        prompt_ids = encode(tok, render_chat(tok, msgs, add_generation_prompt=True))
        options = [str(o) for o in ex["meta"]["options"]]
        tasks["mc"].append(
            {
                "subject": ex.get("subject", "unknown"),
                "answer_index": int(ex["meta"]["answer_index"]),
                "options": [fit(prompt_ids, encode(tok, o)) for o in options],
                "char_lens": [len(o) for o in options],
            }
        )
    groups = [
        ("answer", [e for e in ends_with_answer if e.get("kind") in cfg.generate_kinds], cfg.max_generate_items),
        ("socratic", [e for e in examples if e.get("kind") == "socratic" and e["messages"]], cfg.max_socratic_items),
        (
            "tool",
            [e for e in examples if e.get("kind") == "tool_call" and first_tool_call(e["messages"]) >= 0],
            cfg.max_tool_items,
        ),
    ]
    for group, items, cap in groups:
        for ex in pick(items, cap, cfg.seed, group):
            # A tool-call dialogue goes on after the call (tool result, final answer): the model is asked for the
            # first assistant turn that calls a tool, given everything before it.
            cut = first_tool_call(ex["messages"]) if group == "tool" else len(ex["messages"]) - 1
            msgs = ex["messages"][:cut] if ex["messages"][cut].get("role") == "assistant" else ex["messages"]
            last = ex["messages"][cut]
            reference = {
                "answer": last.get("content") or "",
                "socratic": socratic_reference(ex),
                "tool": tool_name((last.get("tool_calls") or [{}])[0]),
            }[group]
            tasks["gen"].append(
                {
                    "group": group,
                    "subject": ex.get("subject", "unknown"),
                    "kind": ex.get("kind"),
                    "example_id": ex.get("example_id", ""),
                    "reference": reference,
                    "question": next((m.get("content") or "" for m in reversed(msgs) if m["role"] == "user"), ""),
                    "prompt": render_chat(tok, msgs, add_generation_prompt=True),
                }
            )
    return tasks


def run_model(path: str, tok: Any, tasks: dict[str, list], cfg: EvaluateConfig) -> dict[str, list]:
    """Score and generate every task with one model; returns per-item raw results, in task order."""
    import torch

    from tutorforge.eval.lmscore import generate_greedy, score_sequences
    from tutorforge.training.models import load_causal_lm

    torch.manual_seed(cfg.seed)
    model = load_causal_lm(path, dtype=torch.float32)
    top = max((max(t["seq"][0]) for t in tasks["ppl"] + tasks["answer"] if t["seq"][0]), default=0)
    if top >= model.config.vocab_size:
        raise ValueError(f"{path}: tokenizer id {top} >= model vocab_size {model.config.vocab_size} (wrong tokenizer?)")
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    score = lambda seqs, what: score_sequences(  # noqa: E731
        model,
        list(progress(seqs, f"{Path(path).name}: {what}", logger=log)),
        cfg.batch_size,
        pad,
    )
    options = [o for t in tasks["mc"] for o in t["options"]]
    raw: dict[str, list[Any]] = {
        "ppl": score([t["seq"] for t in tasks["ppl"]], "perplexity windows"),
        "answer": score([t["seq"] for t in tasks["answer"]], "answers"),
        "mc": score(options, "mc options"),
    }
    log.info("%s: generating %d responses", path, len(tasks["gen"]))
    raw["gen"] = generate_greedy(
        model,
        tok,
        [t["prompt"] for t in tasks["gen"]],
        cfg.max_new_tokens,
        cfg.batch_size,
        getattr(model.config, "max_position_embeddings", None),
    )
    return raw


def summarise(
    tasks: dict[str, list], raw: dict[str, list], cfg: EvaluateConfig, mods: dict[str, Any], keep: Any = lambda t: True
) -> dict[str, float]:
    """All metrics over the tasks selected by `keep` (everything, or one subject); absent tasks -> absent keys."""
    out: dict[str, float] = {}
    for name, key in (("ppl", "perplexity"), ("answer", "answer_loss")):
        pairs = [r for t, r in zip(tasks[name], raw[name], strict=True) if keep(t)]
        if sum(n for _, n in pairs):
            mean_nll = sum(x for x, _ in pairs) / sum(n for _, n in pairs)
            out[key] = math.exp(mean_nll) if name == "ppl" else mean_nll
    it, hits = iter(raw["mc"]), []
    for t in tasks["mc"]:
        scores = [next(it) for _ in t["options"]]
        if keep(t):
            hits.append(choose_option(scores, t["char_lens"], cfg.mc_length_norm) == t["answer_index"])
    if hits:
        out["mc_accuracy"] = sum(hits) / len(hits)
    gen = [(t, r) for t, r in zip(tasks["gen"], raw["gen"], strict=True) if keep(t)]
    by = {
        g: ([r["text"] for t, r in gen if t["group"] == g], [t["reference"] for t, _ in gen if t["group"] == g])
        for g in ("answer", "socratic", "tool")
    }
    if by["answer"][0]:
        out["rouge_l"] = mods["rouge_l"].compute(
            predictions=by["answer"][0], references=by["answer"][1], use_stemmer=cfg.rouge_stemmer
        )["rouge_l"]
        out["exact_match"] = mods["exact_match"].compute(predictions=by["answer"][0], references=by["answer"][1])[
            "exact_match"
        ]
    if by["socratic"][0]:
        res = mods["socratic_rate"].compute(
            predictions=by["socratic"][0], references=by["socratic"][1], leak_threshold=cfg.socratic_leak_threshold
        )
        out.update({k: res[k] for k in ("socratic_rate", "question_rate", "answer_leak_rate")})
    if by["tool"][0]:
        res = mods["tool_call_validity"].compute(predictions=by["tool"][0], references=by["tool"][1])
        out.update({k: res[k] for k in ("tool_call_validity", "tool_name_match")})
    texts = [x for x in by["answer"][0] + by["socratic"][0] if x.strip()]
    if texts:
        out["fk_grade"] = sum(fk_grade(x) for x in texts) / len(texts)
    if gen:
        out["response_tokens"] = sum(r["new_tokens"] for _, r in gen) / len(gen)
    return {k: round(float(v), 6) for k, v in out.items()}


def perf(raw: dict[str, list], seconds: float) -> dict[str, float]:
    import numpy as np

    lat = [r["latency_s"] for r in raw["gen"]]
    batch_time = sum({r["batch"]: r["latency_s"] for r in raw["gen"]}.values())  # responses of a batch share its time
    toks = sum(r["new_tokens"] for r in raw["gen"])
    res = {"eval_seconds": seconds, "responses": len(lat)}
    if lat:
        res |= {
            "latency_p50_s": float(np.percentile(lat, 50)),
            "latency_p95_s": float(np.percentile(lat, 95)),
            "tokens_per_s": toks / batch_time if batch_time else 0.0,
        }
    return {k: round(float(v), 4) for k, v in res.items()}


def evaluate_models(cfg: EvaluateConfig, docs: list[dict[str, Any]], examples: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole evaluation of held-out textbook `docs` (text records) and chat `examples` (example records) with
    both models; returns {metrics, perf, samples, plots} (nothing written)."""
    import evaluate as hf_evaluate
    import torch
    from transformers import AutoConfig

    from tutorforge.training.models import load_tokenizer, resolve_model

    tok = load_tokenizer(cfg.tokenizer if Path(cfg.tokenizer).exists() else cfg.base_model)
    max_len = min(
        getattr(AutoConfig.from_pretrained(resolve_model(p)), "max_position_embeddings", 2048)
        for p in (cfg.base_model, cfg.sft_model)
    )
    tasks = build_tasks(cfg, tok, docs, examples, max_len)
    log.info(
        "split %s: %d ppl windows, %d answers, %d mc items, %d generations",
        cfg.split,
        len(tasks["ppl"]),
        len(tasks["answer"]),
        len(tasks["mc"]),
        len(tasks["gen"]),
    )
    mods = {
        m: hf_evaluate.load(str(METRICS_DIR / m), keep_in_memory=True)
        for m in ("rouge_l", "exact_match", "socratic_rate", "tool_call_validity")
    }
    raws, perfs, metrics = {}, {}, {}
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.torch_threads or threads)
    try:
        for name, path in (("base", cfg.base_model), ("sft", cfg.sft_model)):
            t0 = time.perf_counter()
            raws[name] = run_model(path, tok, tasks, cfg)
            perfs[name] = perf(raws[name], time.perf_counter() - t0)
            metrics[name] = summarise(tasks, raws[name], cfg, mods)
            log.info("%s: %s", name, metrics[name])
    finally:
        torch.set_num_threads(threads)
    delta = lambda b, s: {k: round(s[k] - b[k], 6) for k in b if k in s}  # noqa: E731
    metrics["delta"] = delta(metrics["base"], metrics["sft"])
    if metrics["base"].get("answer_loss"):
        metrics["answer_loss_reduction"] = round(1 - metrics["sft"]["answer_loss"] / metrics["base"]["answer_loss"], 6)
    subjects = sorted({t["subject"] for group in tasks.values() for t in group})
    metrics["per_subject"] = {}
    for subj in subjects:
        row = {
            m: summarise(tasks, raws[m], cfg, mods, keep=lambda t, s=subj: t["subject"] == s) for m in ("base", "sft")
        }
        metrics["per_subject"][subj] = row | {"delta": delta(row["base"], row["sft"])}
    refs = [t["reference"] for t in tasks["gen"] if t["group"] == "answer" and t["reference"].strip()]
    metrics["reference"] = {"fk_grade": round(sum(map(fk_grade, refs)) / len(refs), 6)} if refs else {}
    metrics["counts"] = {
        "ppl_tokens": sum(n for _, n in raws["base"]["ppl"]),
        "answer_items": len(tasks["answer"]),
        "mc_items": len(tasks["mc"]),
        **{f"{g}_generations": sum(t["group"] == g for t in tasks["gen"]) for g in ("answer", "socratic", "tool")},
    }
    samples = [
        {
            "example_id": t["example_id"],
            "kind": t["kind"],
            "subject": t["subject"],
            "group": t["group"],
            "prompt": t["question"],
            "reference": t["reference"],
            "base_answer": b["text"],
            "sft_answer": s["text"],
        }
        for t, b, s in zip(tasks["gen"], raws["base"]["gen"], raws["sft"]["gen"], strict=True)
    ]
    plots = loss_curve_rows(cfg.pretrain_log, cfg.sft_log) | {"per_subject": per_subject_rows(metrics)}
    return {"metrics": metrics, "perf": perfs, "samples": samples, "plots": plots}
