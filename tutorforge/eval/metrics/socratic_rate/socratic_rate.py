"""Socratic rate: the share of tutor responses that guide with a question instead of stating the answer.

    sr = evaluate.load("tutorforge/eval/metrics/socratic_rate")
    sr.compute(predictions=["What happens to the light energy?"], references=["photosynthesis"])

Definition (per response; `references` holds the hidden reference answer, "" when there is none):
  * asks_question: at least one sentence is interrogative, i.e. ends with '?' or starts with an
    interrogative word (what, why, how, which, who, whom, whose, when, where, can, could, do, does, did,
    is, are, was, were, would, should, will, have, has). Sentences are split after '.', '!', '?' and newlines.
  * leaks_answer: the reference is given away, i.e. the normalised reference tokens (lower-case,
    alphanumeric words) appear in the response as an in-order subsequence covering at least
    `leak_threshold` (default 0.8) of them (token-level LCS recall). An empty reference never leaks.
  * socratic = asks_question and not leaks_answer.
Returns socratic_rate, question_rate, answer_leak_rate (means) and per_item (0/1 socratic flags).
"""

import re

import datasets
import evaluate

INTERROGATIVES = frozenset(
    "what why how which who whom whose when where can could do does did is are was were would should will have has".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def is_interrogative(sentence: str) -> bool:
    if sentence.rstrip().endswith("?"):
        return True
    words = _WORD.findall(sentence.lower())
    return bool(words) and words[0] in INTERROGATIVES


def asks_question(text: str) -> bool:
    return any(is_interrogative(s) for s in sentences(text))


def lcs_len(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def leaks_answer(text: str, reference: str, leak_threshold: float = 0.8) -> bool:
    ref = _WORD.findall(reference.lower())
    if not ref:
        return False
    return lcs_len(ref, _WORD.findall(text.lower())) / len(ref) >= leak_threshold


class SocraticRate(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Share of responses that ask a guiding question and do not state the hidden reference answer.",
            citation="TutorForge",
            inputs_description="predictions: list of str; references: list of str (hidden answer or ''); leak_threshold: float.",
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, leak_threshold: float = 0.8):
        asks = [asks_question(p) for p in predictions]
        leaks = [leaks_answer(p, r, leak_threshold) for p, r in zip(predictions, references, strict=True)]
        flags = [float(a and not leak) for a, leak in zip(asks, leaks, strict=True)]
        n = len(flags) or 1
        return {
            "socratic_rate": sum(flags) / n,
            "question_rate": sum(asks) / n,
            "answer_leak_rate": sum(leaks) / n,
            "per_item": flags,
        }
