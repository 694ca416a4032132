"""ROUGE-L F1 between generated answers and references (local `evaluate` module, works offline).

    import evaluate
    rouge = evaluate.load("tutorforge/eval/metrics/rouge_l")
    rouge.compute(predictions=["the cat sat"], references=["the cat sat down"])  # {'rouge_l': 0.857.., 'per_item': [...]}

Tokenisation is rouge_score's default (lower-case, split on non-alphanumerics); `use_stemmer=True` adds Porter stemming.
An empty prediction or reference scores 0.
"""

import datasets
import evaluate
from rouge_score import rouge_scorer

_DESCRIPTION = "ROUGE-L F1 (longest common subsequence of tokens) averaged over items, plus per-item scores."
_KWARGS = "predictions: list of str; references: list of str; use_stemmer: bool (default False)."


class RougeL(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Lin, C.-Y. (2004). ROUGE: A Package for Automatic Evaluation of Summaries.",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, use_stemmer: bool = False):
        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
        scores = [
            float(scorer.score(ref, pred)["rougeL"].fmeasure) for pred, ref in zip(predictions, references, strict=True)
        ]
        return {"rouge_l": sum(scores) / len(scores) if scores else 0.0, "per_item": scores}
