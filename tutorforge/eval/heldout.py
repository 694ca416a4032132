"""The held-out split of the dataset (issue 4's metrics): perplexity of textbook text, answer loss, and greedy answers,
MC, Socratic and tool-call items of the SFT test split, scored the same way for every model.

    tasks = build_tasks(cfg, tok, docs, examples, max_len)  # docs: dataset pretrain/{split}.jsonl, examples: sft/...
    summarise(tasks, raw, cfg, mods)
    # {"perplexity": 31.2, "answer_loss": 2.9, "mc_accuracy": 0.4, "rouge_l": 0.3, "exact_match": 0.04,
    #  "fk_grade": 7.1, "socratic_rate": 0.5, "question_rate": 0.8, "answer_leak_rate": 0.2,
    #  "tool_call_validity": 0.9, "tool_name_match": 0.8, "response_tokens": 21.5}

  perplexity     exp(token-weighted mean NLL) of held-out textbook text (each document framed by EOS, as pretrain
                 packs it), sliding windows (block_size, stride)
  answer_loss    token-weighted mean NLL of the assistant answer tokens given the chat-formatted prompt
  rouge_l, exact_match, fk_grade   of greedy answers to held-out questions (kinds in `generate_kinds`)
  mc_accuracy    option picked by the highest (length-normalised) log-likelihood on held-out MC items
  socratic_rate  share of Socratic-prompt responses asking a guiding question without stating the hidden answer
  tool_call_validity / tool_name_match   on tool_call items
Text metrics are local `evaluate` modules (tutorforge/eval/metrics/*), loaded by path, offline.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tutorforge.eval.choices import choose_option, pick

if TYPE_CHECKING:
    from tutorforge.eval.evaluate import EvaluateConfig

SOCRATIC_REFERENCE_KEYS = ("reference_answer", "withheld_answer", "hidden_answer", "answer", "reference")


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
    """Tokenise everything once (model-independent): every model sharing `tok` scores the same sequences."""
    from tutorforge.eval.lmscore import chat_prompt_answer, encode, render_chat, sliding_windows
    from tutorforge.eval.lmscore import fit as fit_item

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
        return fit_item(prompt_ids, answer_ids, max_len)

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
