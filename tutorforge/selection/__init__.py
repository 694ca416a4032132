"""Active learning: score the unlabeled pool with the current model (uncertainty), embed it (diversity), pick a
batch for the teachers.

A selection record (artifacts/select/selection.jsonl):

    {"item_id": "review:1ba6af6ff9106923", "kind": "review", "score": 0.857874, "cluster": 7, "round": 1,
     "section_id": "b89f3774a7a49792", "example_id": "701c07536ad734c2",
     "prediction": {"question": "What is at its centre?", "confidence": 0.128, "uncertainty": 0.872, ...},
     "reasons": ["uncertainty 0.872: answer confidence 0.128 ...", "novelty 0.803", ...]}
"""
