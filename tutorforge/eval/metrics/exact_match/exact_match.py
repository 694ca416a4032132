"""Exact match after SQuAD-style normalisation (local `evaluate` module, works offline).

    em = evaluate.load("tutorforge/eval/metrics/exact_match")
    em.compute(predictions=["The Mitochondria."], references=["mitochondria"])  # {'exact_match': 1.0, ...}

normalise(s): lower-case -> drop punctuation -> drop the articles a/an/the -> collapse whitespace.
"""

import re
import string

import datasets
import evaluate

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalise(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


class ExactMatch(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Share of predictions equal to their reference after normalisation, plus per-item 0/1.",
            citation="Rajpurkar et al. (2016). SQuAD: 100,000+ Questions for Machine Comprehension of Text.",
            inputs_description="predictions: list of str; references: list of str.",
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        scores = [float(normalise(p) == normalise(r)) for p, r in zip(predictions, references, strict=True)]
        return {"exact_match": sum(scores) / len(scores) if scores else 0.0, "per_item": scores}
