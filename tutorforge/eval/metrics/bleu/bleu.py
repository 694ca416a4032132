"""Corpus BLEU between generated answers and references, with sacrebleu (local `evaluate` module, works offline).

    import evaluate
    bleu = evaluate.load("tutorforge/eval/metrics/bleu")
    bleu.compute(predictions=["The cytoplasm is a jelly-like liquid."],
                 references=["The cytoplasm is a jelly-like liquid in which most chemical reactions take place."])
    # {'bleu': 30.93.., 'per_item': [30.93..]}

`bleu` is sacrebleu's corpus BLEU (0-100, 13a tokenisation, one reference per item); `per_item` holds sentence BLEU
with sacrebleu's default exponential smoothing, so a short answer is not 0 for lacking 4-gram matches. An empty
prediction scores 0.
"""

import datasets
import evaluate
import sacrebleu

_DESCRIPTION = "Corpus BLEU (sacrebleu, 0-100) over items, plus per-item smoothed sentence BLEU."
_KWARGS = "predictions: list of str; references: list of str (one reference per prediction)."


class Bleu(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Post, M. (2018). A Call for Clarity in Reporting BLEU Scores.",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        if not predictions:
            return {"bleu": 0.0, "per_item": []}
        corpus = sacrebleu.corpus_bleu(list(predictions), [list(references)]).score
        per_item = [float(sacrebleu.sentence_bleu(p, [r]).score) for p, r in zip(predictions, references, strict=True)]
        return {"bleu": float(corpus), "per_item": per_item}
