"""Tool-call scoring of the frozen benchmark: parse a model's reply into calls and judge the first against the item.

    item = {"id": "tool-bio-001", "request": "Can I see how the heart's chambers fit together in 3D?",
            "expected": {"name": "show_3d_model", "arguments": {"model_id": "human_heart"}}}
    judge_call('<tool_call>{"arguments": {"model_id": "human_heart"}, "name": "show_3d_model"}</tool_call>', item)
    # {"parsed": True, "name_ok": True, "schema_ok": True, "args_ok": True, "model_id_ok": True, "correct": True, ...}
    judge_call('{"name": "show_3d_model", "arguments": {"model_id": "beating_heart"}}', item)["correct"]  # False

A reply may hold its call as SFT renders it when the chat template has no tool support
(`<tool_call>{json}</tool_call>`, training/sft_data.py), as bare JSON (`{"name", "arguments"}`), or in the OpenAI
shape (`{"function": {"name", "arguments"}}` / `{"tool_calls": [...]}`). The FIRST call is judged (README "tools"):
correct iff its name is the expected one, `validate_call` accepts it against the tool schema (so an unknown
`model_id`, an extra or a missing argument is wrong), and each expected argument matches: exactly for ids and
integers (`model_id`, `n_questions`), by `match_keywords` for free text (every keyword a case-insensitive substring).
"""

from __future__ import annotations

import json
from typing import Any

from tutorforge.tools.specs import DEFAULT_CATALOGUE, validate_call


def _calls_in(obj: Any) -> list[dict[str, Any]]:
    """The {name, arguments} calls one decoded JSON value holds (a call, an OpenAI function wrapper, a list)."""
    if isinstance(obj, list):
        return [c for x in obj for c in _calls_in(x)]
    if not isinstance(obj, dict):
        return []
    if isinstance(obj.get("tool_calls"), list):
        return _calls_in(obj["tool_calls"])
    if isinstance(obj.get("function"), dict) and "name" in obj["function"]:
        return _calls_in(obj["function"])
    if "name" not in obj:
        return []
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):  # the OpenAI wire format sends arguments as a JSON string
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            pass
    return [{"name": obj["name"], "arguments": args}]


def parse_calls(text: str) -> list[dict[str, Any]]:
    """Every tool call in a model reply, in order (JSON values that are not calls are skipped)."""
    dec, calls, i = json.JSONDecoder(), [], text.find("{")
    while i != -1:
        try:
            obj, end = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        found = _calls_in(obj)
        calls += found
        # a decoded object that is not a call may still wrap one deeper down: step inside it, not past it
        i = text.find("{", end if found else i + 1)
    return calls


def _arg_ok(name: str, got: Any, want: Any, keywords: list[str] | None) -> bool:
    if keywords is not None:  # free text: every keyword must appear
        return isinstance(got, str) and all(k.lower() in got.lower() for k in keywords)
    return type(got) is type(want) and got == want  # ids and integers: exact (True is not 1)


def judge_call(text: str, item: dict[str, Any], catalogue: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The verdict on a reply to a tools item: parsed, name_ok, schema_ok, args_ok, model_id_ok (None when the item
    does not expect show_3d_model), correct, and the first call (or None)."""
    catalogue = DEFAULT_CATALOGUE if catalogue is None else catalogue
    expected, keywords = item["expected"], item.get("match_keywords") or {}
    calls = parse_calls(text)
    call = calls[0] if calls else None
    wants_model = expected["name"] == "show_3d_model"
    if call is None:
        verdict = {"parsed": False, "name_ok": False, "schema_ok": False, "args_ok": False}
        return verdict | {"model_id_ok": False if wants_model else None, "correct": False, "call": None}
    name_ok = call["name"] == expected["name"]
    schema_ok = validate_call(call, catalogue) == []
    args = call["arguments"] if isinstance(call["arguments"], dict) else {}
    args_ok = name_ok and all(
        k in args and _arg_ok(k, args[k], v, keywords.get(k)) for k, v in expected["arguments"].items()
    )
    model_id_ok = (
        (name_ok and schema_ok and args.get("model_id") == expected["arguments"]["model_id"]) if wants_model else None
    )
    return {
        "parsed": True,
        "name_ok": name_ok,
        "schema_ok": schema_ok,
        "args_ok": args_ok,
        "model_id_ok": model_id_ok,
        "correct": name_ok and schema_ok and args_ok,
        "call": call,
    }


def tool_scores(verdicts: list[dict[str, Any]]) -> dict[str, float]:
    """tool_call_accuracy, tool_name_accuracy, tool_schema_valid_rate over all verdicts, and model_id_accuracy (the
    correct 3D-model recommendation rate) over the show_3d_model items; {} when there are no verdicts."""
    if not verdicts:
        return {}
    n = len(verdicts)
    out = {
        "tool_call_accuracy": sum(v["correct"] for v in verdicts) / n,
        "tool_name_accuracy": sum(v["name_ok"] for v in verdicts) / n,
        "tool_schema_valid_rate": sum(v["schema_ok"] for v in verdicts) / n,
    }
    models = [v["model_id_ok"] for v in verdicts if v["model_id_ok"] is not None]
    if models:
        out["model_id_accuracy"] = sum(models) / len(models)
    return out
