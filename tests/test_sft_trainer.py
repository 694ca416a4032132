"""SFT on TRL (tutorforge/training/sft_trainer.py): the labels-only loss equals the full-logits loss, LoRA on the top
layers trains only those layers, and the stage's trainer is TRL's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.support.tiny_sft import tiny_sft
from tutorforge.training.sft import SFTConfig, load_model
from tutorforge.training.sft_data import PackedCollator, pack_examples
from tutorforge.training.sft_trainer import build_trainer, labelled_positions, supervised_nll
from tutorforge.training.tiny import make_model


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
