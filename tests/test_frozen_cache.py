"""The frozen-layer cache of SFT (tutorforge/training/frozen_cache.py): training with it is the same training, rows
differing only in packing boundaries never share an entry, and it refuses layers that are not frozen."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.support.tiny_sft import tiny_sft
from tutorforge.training.frozen_cache import FrozenLayerCache
from tutorforge.training.sft import SFTConfig, load_model
from tutorforge.training.sft_data import PackedCollator, pack_examples
from tutorforge.training.sft_trainer import build_trainer


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path, list[dict]]:
    d = tmp_path_factory.mktemp("frozen-cache")
    tok, examples = tiny_sft(d, n_records=16, seed=5, max_length=64)
    rows = {}
    for share in (False, True):  # True: rows with shared system turns and their segment masks
        packed = pack_examples(examples, 64, share_prefixes=share)
        # make_records repeats some records; identical rows legitimately share an entry, which would blur the counts
        rows[share] = list({repr(sorted(r.items())): r for r in packed}.values())
        assert len(rows[share]) >= 8
    assert any("seg" in r and max(r["parent"]) >= 0 for r in rows[True])
    return tok, d, rows


def _train(
    d: Path, tok: object, rows: list[dict], cached: bool, steps: int, tag: str = ""
) -> tuple[list[float], dict, object]:
    torch.manual_seed(0)
    model = load_model(SFTConfig(base_model=str(d / "model"), mode="lora", lora_layers=2, lora_dropout=0.0), "fp32")
    cache = FrozenLayerCache(model, frozen=2) if cached else None
    if cache:
        cache.install()
    args = {
        "output_dir": str(d / f"ckpt-{cached}-{tag}"),
        "max_steps": steps,
        "per_device_train_batch_size": 4,
        "report_to": [],
        "logging_steps": 1,
        "save_strategy": "no",
        "seed": 1,
        "data_seed": 1,
        "use_cpu": True,
        "disable_tqdm": True,
    }
    trainer = build_trainer(model, tok, args, {"train": rows, "validation": []}, PackedCollator(0, 64), True)
    trainer.train()
    if cache:
        cache.remove()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    weights = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return losses, weights, cache


@pytest.mark.parametrize("shared", [False, True], ids=["packed", "shared-system-turns"])
def test_training_with_the_cache_is_the_same_training(fx, shared: bool) -> None:  # noqa: ANN001
    tok, d, rows = fx[0], fx[1], fx[2][shared]
    epoch = -(-len(rows) // 4)
    assert epoch >= 2
    plain_losses, plain_w, _ = _train(d, tok, rows, cached=False, steps=3 * epoch, tag=f"{shared}")
    losses, w, cache = _train(d, tok, rows, cached=True, steps=3 * epoch, tag=f"{shared}")
    assert losses == pytest.approx(plain_losses, rel=1e-4, abs=1e-5)
    assert w.keys() == plain_w.keys() and all(torch.allclose(w[k], plain_w[k], atol=1e-5) for k in w)
    # every row computed once, then served on epochs 2 and 3
    assert (cache.misses, cache.hits, cache.stats["rows_cached"]) == (len(rows), 2 * len(rows), len(rows))
    # the learning actually happened (a test that cannot fail would pass with frozen LoRA weights too)
    assert losses[-1] < losses[0]


def test_packing_boundaries_and_generation_are_not_served_from_a_wrong_entry(fx) -> None:  # noqa: ANN001
    d, rows = fx[1], fx[2][False]
    model = load_model(SFTConfig(base_model=str(d / "model"), mode="lora", lora_layers=2), "fp32").eval()
    ids = torch.tensor([rows[0]["input_ids"]])
    one = torch.arange(ids.shape[1]).unsqueeze(0)  # one example over the whole row
    two = torch.cat([torch.arange(ids.shape[1] // 2), torch.arange(ids.shape[1] - ids.shape[1] // 2)]).unsqueeze(0)
    with torch.no_grad():
        want = {
            k: model(input_ids=ids, position_ids=p, use_cache=False).logits for k, p in (("one", one), ("two", two))
        }
        with FrozenLayerCache(model, frozen=2) as cache:
            got = {
                k: model(input_ids=ids, position_ids=p, use_cache=False).logits for k, p in (("one", one), ("two", two))
            }
            again = model(input_ids=ids, position_ids=two, use_cache=False).logits
            assert (cache.misses, cache.hits) == (2, 1)
            generated = model.generate(input_ids=ids[:, :8], max_new_tokens=4, do_sample=False)  # KV cache: bypassed
            assert cache.misses + cache.hits == 3
        plain = model.generate(input_ids=ids[:, :8], max_new_tokens=4, do_sample=False)
    assert not torch.allclose(want["one"], want["two"])  # the boundary matters...
    for k in want:  # ...and each is served its own entry
        assert torch.allclose(got[k], want[k], atol=1e-5), k
    assert torch.allclose(again, want["two"], atol=1e-5)
    assert torch.equal(generated, plain)
    assert all("forward" not in layer.__dict__ for layer in model.get_base_model().model.layers)  # removed


def test_refuses_layers_that_are_not_frozen(fx) -> None:  # noqa: ANN001
    _, d, _ = fx
    everywhere = load_model(SFTConfig(base_model=str(d / "model"), mode="lora", lora_layers=0), "fp32")
    with pytest.raises(ValueError, match="trainable"):
        FrozenLayerCache(everywhere, frozen=2)
    top = load_model(SFTConfig(base_model=str(d / "model"), mode="lora", lora_layers=2), "fp32")
    with pytest.raises(ValueError, match="not in 1..3"):
        FrozenLayerCache(top, frozen=4)
