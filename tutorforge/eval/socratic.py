"""Socratic scoring of the frozen benchmark: does the tutor's FIRST reply guide with a question and withhold the answer?

    item = {"id": "soc-bio-001", "student": "Just tell me: where in a plant cell does photosynthesis actually happen?",
            "answer": "In the chloroplasts.", "answer_terms": ["chloroplast", "chloroplasts"], ...}
    judge_reply("Which green pigment do leaves use to absorb light?", item)
    # {"asks": True, "leaks": False, "passes": True, "terms": []}
    judge_reply("It happens in the chloroplasts. Does that help?", item)["leaks"]  # True: states "chloroplasts"
    judge_dialogue([{"role": "user", "content": "Just tell me..."},
                    {"role": "assistant", "content": "Which pigment makes leaves green?"},
                    {"role": "user", "content": "Chlorophyll, in the chloroplasts?"},
                    {"role": "assistant", "content": "Yes: in the chloroplasts."}], item)["passes"]  # True

A reply passes when it asks a question (it contains "?") and does not state the answer: none of the item's
`answer_terms` occurs in it (benchmark.states_answer: case-insensitive, whole words or numbers) and it does not cover
`leak_threshold` of the `answer` tokens in order (the benchmark README's LCS rule, shared with the held-out
socratic_rate metric). Only the first assistant turn is judged: a tutor may confirm the answer once the student has
worked it out, so a closing turn that states it is not a leak.
"""

from __future__ import annotations

from typing import Any

from tutorforge.eval.benchmark import states_answer

# the held-out socratic_rate metric's LCS leak rule: one definition for both
from tutorforge.eval.metrics.socratic_rate.socratic_rate import leaks_answer


def first_tutor_reply(messages: list[dict[str, Any]]) -> str:
    """Content of the first assistant turn of a dialogue ("" when the tutor never speaks)."""
    return next((m.get("content") or "" for m in messages if m.get("role") == "assistant"), "")


def judge_reply(reply: str, item: dict[str, Any], leak_threshold: float = 0.8) -> dict[str, Any]:
    """{asks, leaks, passes, terms}: the verdict on one first reply to a Socratic benchmark item."""
    terms = states_answer(reply, list(item["answer_terms"]))
    asks = "?" in reply
    leaks = bool(terms) or leaks_answer(reply, str(item.get("answer", "")), leak_threshold)
    return {"asks": asks, "leaks": leaks, "passes": asks and not leaks, "terms": terms}


def judge_dialogue(messages: list[dict[str, Any]], item: dict[str, Any], leak_threshold: float = 0.8) -> dict[str, Any]:
    """judge_reply on the dialogue's first tutor turn; later turns (a closing confirmation) are never judged."""
    return judge_reply(first_tutor_reply(messages), item, leak_threshold)


def socratic_scores(verdicts: list[dict[str, Any]]) -> dict[str, float]:
    """socratic_rate (share passing), question_rate and leak_rate over judge_reply verdicts; {} when there are none."""
    if not verdicts:
        return {}
    n = len(verdicts)
    return {
        "socratic_rate": sum(v["passes"] for v in verdicts) / n,
        "question_rate": sum(v["asks"] for v in verdicts) / n,
        "leak_rate": sum(v["leaks"] for v in verdicts) / n,
    }
