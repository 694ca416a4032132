"""SFT on TRL (tutorforge/training/sft_trainer.py): the labels-only loss equals the full-logits loss, LoRA on the top
layers trains only those layers, and the stage's trainer is TRL's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.support.tiny_sft import tiny_sft
from tutorforge.training.sft import SFTConfig, load_model
from tutorforge.training.sft_data import PackedCollator, encode_records, pack_examples, weight_opening
from tutorforge.training.sft_trainer import build_trainer, labelled_positions, supervised_nll
from tutorforge.training.tiny import make_model, make_records


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path, list[dict]]:
    d = tmp_path_factory.mktemp("sft-trainer")
    tok, examples = tiny_sft(d, n_records=12, seed=3, max_length=128)
    return tok, d, pack_examples(examples, 128)


def test_labelled_positions_are_those_whose_next_token_has_a_label() -> None:
    labels = torch.tensor([[-100, -100, 5, 6, -100, -100], [-100, -100, -100, -100, -100, 9]])
    assert labelled_positions(labels).tolist() == [1, 2, 4]


def test_labels_only_loss_and_gradients_equal_the_full_logits_ones(fx) -> None:  # noqa: ANN001
    tok, d, rows = fx
    batch = PackedCollator(tok.pad_token_id)(rows[:4])
    assert int((batch["labels"] == -100).sum()) > 0 and int((batch["labels"] != -100).sum()) > 0
    model = make_model(tok, layers=4)
    results = []
    for labels_only in (True, False):
        model.zero_grad()
        nll, n = supervised_nll(model, dict(batch), labels_only)
        (nll / n).backward()
        grad = model.model.layers[0].mlp.up_proj.weight.grad
        assert grad is not None
        results.append((nll.item(), int(n), grad.clone()))
    (a, na, ga), (b, nb, gb) = results
    assert na == nb and a == pytest.approx(b, rel=1e-5)
    assert torch.allclose(ga, gb, atol=1e-6)


def test_lora_on_top_layers_adapts_only_those_and_skips_backward_below(fx) -> None:  # noqa: ANN001
    _, d, _ = fx
    cfg = SFTConfig(base_model=str(d / "model"), tokenizer=str(d / "tok"), mode="lora", lora_layers=2)
    model = load_model(cfg, "fp32")
    adapted = {int(n.split(".layers.")[1].split(".")[0]) for n, p in model.named_parameters() if p.requires_grad}
    assert adapted == {2, 3}
    everywhere = load_model(SFTConfig(base_model=str(d / "model"), mode="lora", lora_layers=0), "fp32")
    layers = {int(n.split(".layers.")[1].split(".")[0]) for n, p in everywhere.named_parameters() if p.requires_grad}
    assert layers == {0, 1, 2, 3}


def test_stage_trainer_is_trl_sft_trainer_and_its_loss_is_ours(fx) -> None:  # noqa: ANN001
    from trl.trainer.sft_trainer import SFTTrainer

    tok, d, rows = fx
    model = make_model(tok, layers=4)
    collator = PackedCollator(tok.pad_token_id)
    args = {"output_dir": str(d / "ckpt"), "max_steps": 1, "per_device_train_batch_size": 4, "report_to": []}
    trainer = build_trainer(model, tok, args, {"train": rows, "validation": []}, collator, labels_only=True)
    assert isinstance(trainer, SFTTrainer)
    batch = collator(rows[:4])
    nll, n = supervised_nll(model, dict(batch), False)
    model.eval()
    assert trainer.compute_loss(model, dict(batch)).item() == pytest.approx((nll / n).item(), rel=1e-5)


def test_weighted_opening_tokens_scale_exactly_their_share_of_the_loss(fx) -> None:  # noqa: ANN001
    """sft.opening_weight: the first labelled tokens of an example get weight w, the loss is the weighted sum of the
    same token NLLs (count unchanged), in plain and in shared-system-turn rows; weight 1 is the plain loss."""
    tok, d, _ = fx
    examples, _ = encode_records(tok, make_records(8, seed=5), 128)
    model = make_model(tok, layers=2)
    for share in (False, True):
        plain = PackedCollator(tok.pad_token_id)(pack_examples(examples, 128, share)[:3])
        ones = [weight_opening({**e, "labels": list(e["labels"])}, 3, 1.0) for e in examples]
        weighted = [weight_opening({**e, "labels": list(e["labels"])}, 3, 4.0) for e in examples]
        first = next(i for i, t in enumerate(weighted[0]["labels"]) if t != -100)
        assert weighted[0]["weights"][first : first + 3] == [4.0] * 3 and weighted[0]["weights"][first + 3] == 1.0
        assert set(weighted[0]["weights"][:first]) == {1.0}
        with torch.no_grad():
            base, n = supervised_nll(model, dict(plain))
            same, n1 = supervised_nll(
                model, dict(PackedCollator(tok.pad_token_id)(pack_examples(ones, 128, share)[:3]))
            )
            wb = PackedCollator(tok.pad_token_id)(pack_examples(weighted, 128, share)[:3])
            heavy, n4 = supervised_nll(model, dict(wb))
            # by hand: full logits, token NLL x the batch's weights at the labelled targets
            logits = model(**{k: v for k, v in wb.items() if k not in {"labels", "n_tokens", "loss_weights"}}).logits
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), wb["labels"][:, 1:].reshape(-1), reduction="none"
            )
            expect = (nll * wb["loss_weights"][:, 1:].reshape(-1)).sum()
        assert int(n) == int(n1) == int(n4) and same.item() == pytest.approx(base.item(), rel=1e-6)
        assert (wb["loss_weights"] == 4.0).sum() > 0 and heavy.item() > base.item() * 1.01
        assert heavy.item() == pytest.approx(expect.item(), rel=1e-5)


def test_opening_weights_cover_a_few_tokens_of_a_reply_and_all_of_a_tool_call(fx) -> None:  # noqa: ANN001
    tok = fx[0]
    records = make_records(6, seed=1)
    encoded, _ = encode_records(tok, records, 512, opening_tokens=3, opening_weight=4.0)
    assert len(encoded) == len(records)  # short conversations: one sequence each
    for rec, ex in zip(records, encoded, strict=True):
        heavy = [i for i, w in enumerate(ex["weights"]) if w == 4.0]
        first = next(i for i, t in enumerate(ex["labels"]) if t != -100)
        turn_end = next(i for i in range(first, len(ex["labels"])) if ex["labels"][i] == -100)
        if rec["kind"] == "tool_call":  # the call: which tool, which arguments
            assert heavy == list(range(first, turn_end)) and turn_end - first > 3
        else:
            assert heavy == [first, first + 1, first + 2]
    plain, _ = encode_records(tok, records, 512)
    assert all("weights" not in ex for ex in plain)  # off by default: validation is never weighted
