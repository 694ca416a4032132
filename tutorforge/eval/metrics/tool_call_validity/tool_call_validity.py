"""Tool-call validity: does the response hold a well-formed tool call (local `evaluate` module, works offline)?

    tv = evaluate.load("tutorforge/eval/metrics/tool_call_validity")
    tv.compute(predictions=['<tool_call>{"name": "calculator", "arguments": {"expression": "2+2"}}</tool_call>'],
               references=["calculator"])

A response is valid when some balanced {...} block in it parses as JSON with a non-empty string "name" and an object
"arguments" (a "tool_calls"/"function" wrapper is unwrapped). `tool_name_match` also requires name == reference
(the expected tool name; "" accepts any name).
"""

import json

import datasets
import evaluate


def json_objects(text: str):
    depth, start, in_str, esc = 0, -1, False, False
    for i, ch in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"' and depth > 0:
            in_str = True
        elif ch == "{":
            start = i if depth == 0 else start
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                try:
                    yield json.loads(text[start : i + 1])
                except ValueError:
                    pass


def parse_tool_call(text: str):
    for obj in json_objects(text):
        if isinstance(obj.get("tool_calls"), list) and obj["tool_calls"] and isinstance(obj["tool_calls"][0], dict):
            obj = obj["tool_calls"][0]
        if isinstance(obj.get("function"), dict):
            obj = obj["function"]
        if isinstance(obj.get("name"), str) and obj["name"] and isinstance(obj.get("arguments"), dict):
            return obj
    return None


class ToolCallValidity(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Share of responses with a parseable JSON tool call; tool_name_match also checks the tool name.",
            citation="TutorForge",
            inputs_description="predictions: list of str; references: list of str (expected tool name or '').",
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        calls = [parse_tool_call(p) for p in predictions]
        valid = [float(c is not None) for c in calls]
        match = [float(c is not None and (not r or c["name"] == r)) for c, r in zip(calls, references, strict=True)]
        n = len(valid) or 1
        return {"tool_call_validity": sum(valid) / n, "tool_name_match": sum(match) / n, "per_item": valid}
