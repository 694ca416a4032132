"""tutorforge.vision.encoder + contrastive: one loading path for CLIP and SigLIP, training from scratch, saving.

Tiny checkpoints of both families are saved to tmp dirs and loaded with `load_encoder(path)`, the call a GPU profile
makes with a hub id. Training runs a tiny SigLIP on a toy task (coloured shapes at random positions) for a few dozen
CPU steps.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image, ImageDraw

from tests.support.diagram_encoder import one_thread
from tutorforge.vision.contrastive import (
    EncoderSpec,
    count_params,
    new_small_encoder,
    save_encoder,
    train_caption_tokenizer,
    train_contrastive,
)
from tutorforge.vision.encoder import DiagramEncoder, EncoderError, class_embeddings, load_encoder, zero_shot

TINY = EncoderSpec(
    image_size=32,
    patch_size=8,
    vision_hidden=64,
    vision_layers=2,
    vision_heads=2,
    vision_intermediate=128,
    text_hidden=64,
    text_layers=1,
    text_max_length=8,
    vocab_size=128,
)
# Six classes, each its own colour and shape; size and position vary per image.
CLASSES = {
    "red circle": ((220, 30, 30), "circle"),
    "blue square": ((30, 60, 220), "square"),
    "green triangle": ((30, 160, 60), "triangle"),
    "yellow cross": ((230, 200, 20), "cross"),
    "purple ring": ((140, 40, 170), "ring"),
    "black diamond": ((20, 20, 20), "diamond"),
}
PROMPTS = {label: [f"a {label}"] for label in CLASSES}


def draw(label: str, rng: random.Random, size: int = 32) -> Image.Image:
    colour, shape = CLASSES[label]
    im = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(im)
    r = rng.randint(7, 12)
    cx, cy = rng.randint(r, size - r), rng.randint(r, size - r)
    box = [cx - r, cy - r, cx + r, cy + r]
    if shape == "circle":
        d.ellipse(box, fill=colour)
    elif shape == "ring":
        d.ellipse(box, outline=colour, width=3)
    elif shape == "square":
        d.rectangle(box, fill=colour)
    elif shape == "cross":
        d.rectangle([cx - r, cy - 2, cx + r, cy + 2], fill=colour)
        d.rectangle([cx - 2, cy - r, cx + 2, cy + r], fill=colour)
    elif shape == "diamond":
        d.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour)
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    return im


def toy_data(n: int, seed: int) -> tuple[list[Image.Image], list[str]]:
    rng = random.Random(seed)
    labels = [list(CLASSES)[i % len(CLASSES)] for i in range(n)]
    return [draw(lb, rng) for lb in labels], labels


def toy_captions(labels: list[str]) -> list[str]:
    """Two caption templates, alternating per round of classes (so every class gets both)."""
    return [f"a {lb}" if (i // len(CLASSES)) % 2 else f"a drawing of a {lb}" for i, lb in enumerate(labels)]


def top1(encoder: DiagramEncoder, images: list[Image.Image], labels: list[str]) -> float:
    ranked = zero_shot(encoder, images, PROMPTS)
    return sum(r[0][0] == lb for r, lb in zip(ranked, labels, strict=True)) / len(labels)


def new_tiny(seed: int = 0) -> DiagramEncoder:
    _, labels = toy_data(60, 0)
    return new_small_encoder(TINY, toy_captions(labels) + [p for ps in PROMPTS.values() for p in ps], seed=seed)


def train(
    encoder: DiagramEncoder,
    images: list[Image.Image],
    captions: list[str],
    groups: list[str] | None,
    *,
    seed: int = 0,
    steps: int = 100,
    batch_size: int = 32,
    on_log: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """The toy task's training settings (100 steps: 20 of 20 seeds reach 100% held-out top-1; 60 steps: 18)."""
    return train_contrastive(
        encoder,
        images,
        captions,
        groups=groups,
        steps=steps,
        batch_size=batch_size,
        learning_rate=2e-3,
        weight_decay=0.01,
        warmup_steps=5,
        seed=seed,
        augment=True,
        progress=False,
        on_log=on_log,
    )


def state(encoder: DiagramEncoder) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in encoder.model.state_dict().items()}


# ------------------------------------------------------------------------------------------------ checkpoints


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> Path:
    """A tiny CLIP-architecture checkpoint (model + CLIP image processor + a caption tokenizer)."""
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig
    from transformers.utils.import_utils import is_torchvision_available

    if is_torchvision_available():
        from transformers import CLIPImageProcessor as Processor
    else:
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil as Processor

    out = tmp_path_factory.mktemp("clip")
    tok = train_caption_tokenizer(["a red circle", "a blue square", "a diagram of the human heart"], 64, 16)
    text = CLIPTextConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        projection_dim=24,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=16,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=None,
    )
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        projection_dim=24,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=24)).save_pretrained(out)
    Processor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory) -> Path:
    """A tiny SigLIP-architecture checkpoint saved by save_encoder (untrained)."""
    return save_encoder(new_tiny(seed=3), tmp_path_factory.mktemp("siglip") / "encoder")


@pytest.mark.parametrize(("family", "dim", "hidden"), [("clip", 24, 32), ("siglip", 64, 64)])
def test_both_families_load_through_one_path(family, dim, hidden, clip_dir, siglip_dir):
    path = clip_dir if family == "clip" else siglip_dir
    enc = load_encoder(str(path))
    assert enc.kind == family
    assert not enc.model.training
    assert enc.image_size == 32
    images, _ = toy_data(5, 1)
    texts = ["a red circle", "a blue square", "a diagram of the human heart"]

    img, txt = enc.embed_images(images, batch_size=2), enc.embed_texts(texts, batch_size=2)
    assert img.shape == (5, dim) and txt.shape == (3, dim)
    assert img.dtype == torch.float32 and txt.dtype == torch.float32
    assert torch.allclose(img.norm(dim=-1), torch.ones(5), atol=1e-5)
    assert torch.allclose(txt.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert not torch.allclose(img[0], img[1], atol=1e-4)  # different images, different embeddings

    # scores() is exactly the model's own forward logits (scale, and bias for SigLIP).
    with torch.no_grad():
        out = enc.model(pixel_values=enc.pixel_values(images), **enc.tokenize(texts))
    assert torch.allclose(enc.scores(img, txt), out.logits_per_image, atol=1e-4)

    patches = enc.patch_features(images[:2])
    assert patches.shape == (2, (32 // 8) ** 2, hidden) == (2, enc.num_patches, enc.hidden_size)


def test_siglip_texts_are_padded_to_max_length(siglip_dir):
    enc = load_encoder(str(siglip_dir))
    batch = enc.tokenize(["a red circle", "a drawing of a very long blue square caption here"])
    assert batch["input_ids"].shape == (2, TINY.text_max_length)
    alone = enc.embed_texts(["a red circle"])
    with_long = enc.embed_texts(["a red circle", "a drawing of a very long blue square caption here"])
    assert torch.allclose(alone[0], with_long[0], atol=1e-6)  # batch composition never changes an embedding


def test_digest_hashes_the_weight_files(clip_dir, siglip_dir):
    clip, siglip = load_encoder(str(clip_dir)), load_encoder(str(siglip_dir))
    expected = hashlib.sha256(b"model.safetensors\0" + (siglip_dir / "model.safetensors").read_bytes()).hexdigest()
    assert siglip.digest() == expected == load_encoder(str(siglip_dir)).digest()
    assert clip.digest() != siglip.digest()


def test_zero_shot_ranks_every_class_with_its_cosine(siglip_dir):
    enc = load_encoder(str(siglip_dir))
    images, _ = toy_data(3, 2)
    ranked = zero_shot(enc, images, PROMPTS)
    labels, emb = class_embeddings(enc, PROMPTS)
    assert labels == list(PROMPTS) and emb.shape == (len(PROMPTS), 64)
    expected = enc.embed_images(images) @ emb.T
    for i, row in enumerate(ranked):
        assert sorted(lb for lb, _ in row) == sorted(PROMPTS)
        sims = [s for _, s in row]
        assert sims == sorted(sims, reverse=True)
        for lb, s in row:
            assert s == pytest.approx(float(expected[i, labels.index(lb)]), abs=1e-5)
    assert zero_shot(enc, images, class_emb=(labels, emb)) == ranked


# ------------------------------------------------------------------------------------------------ errors


def test_missing_dir_is_one_line_error_naming_it(tmp_path):
    missing = tmp_path / "no-such-encoder"
    with pytest.raises(EncoderError) as err:
        load_encoder(str(missing))
    assert str(missing) in str(err.value) and "\n" not in str(err.value)


def test_uncached_hub_id_offline_is_an_encoder_error():
    with pytest.raises(EncoderError) as err:
        load_encoder("tutorforge-nobody/no-such-siglip-model")
    assert "tutorforge-nobody/no-such-siglip-model" in str(err.value) and "\n" not in str(err.value)


def test_non_clip_model_is_refused(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(
        BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    ).save_pretrained(tmp_path)
    with pytest.raises(EncoderError) as err:
        load_encoder(str(tmp_path))
    msg = str(err.value)
    assert str(tmp_path) in msg and "bert" in msg and "\n" not in msg


def test_truncated_weights_are_a_broken_checkpoint(tmp_path, siglip_dir):
    broken = tmp_path / "broken"
    shutil.copytree(siglip_dir, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(EncoderError) as err:
        load_encoder(str(broken))
    msg = str(err.value)
    assert str(broken) in msg and "broken" in msg and "\n" not in msg


def test_weights_missing_from_the_file_are_a_broken_checkpoint(tmp_path, siglip_dir):
    """transformers would load it with those weights freshly random (a warning): refused instead."""
    from safetensors.torch import load_file, save_file

    partial = tmp_path / "partial"
    shutil.copytree(siglip_dir, partial)
    tensors = load_file(partial / "model.safetensors")
    dropped = next(k for k in tensors if k.startswith("vision_model.encoder"))
    del tensors[dropped]
    save_file(tensors, partial / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(EncoderError, match="missing weights") as err:
        load_encoder(str(partial))
    assert str(partial) in str(err.value) and dropped in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------------------------------------ training


def test_caption_tokenizer_is_deterministic_and_reloads(tmp_path):
    from transformers import AutoTokenizer

    caps = toy_captions(toy_data(12, 0)[1])
    a, b = train_caption_tokenizer(caps, 128, 8), train_caption_tokenizer(caps, 128, 8)
    assert a.get_vocab() == b.get_vocab()
    a.save_pretrained(tmp_path)
    c = AutoTokenizer.from_pretrained(tmp_path)
    assert c.model_max_length == 8
    ids = c("A Red CIRCLE")["input_ids"]
    assert ids == a("a red circle")["input_ids"] and ids[-1] == c.eos_token_id  # lowercased, ends with EOS


@pytest.fixture(scope="module")
def trained() -> tuple[DiagramEncoder, list[dict], list[dict], DiagramEncoder]:
    """(trained tiny SigLIP, its log, what on_log saw, the same model untrained)."""
    images, labels = toy_data(60, 0)
    untrained, enc = new_tiny(seed=0), new_tiny(seed=0)
    seen: list[dict] = []
    with one_thread():
        log = train(enc, images, toy_captions(labels), labels, on_log=seen.append)
    return enc, log, seen, untrained


def test_training_learns_the_toy_task_and_the_metric_can_say_bad(trained):
    enc, log, seen, untrained = trained
    test_images, test_labels = toy_data(60, 99)  # held out: other sizes and positions
    assert top1(untrained, test_images, test_labels) <= 0.4  # chance is 1/6
    assert top1(enc, test_images, test_labels) >= 0.8
    assert not enc.model.training and enc.source is None
    assert [e["step"] for e in log] == list(range(10, 101, 10)) and seen == log
    assert log[-1]["loss"] < 0.5 * log[0]["loss"]
    assert log[-1]["lr"] < log[2]["lr"]  # cosine decay


def test_same_seed_gives_identical_weights(trained):
    enc, *_ = trained
    images, labels = toy_data(60, 0)
    again, other = new_tiny(seed=0), new_tiny(seed=0)
    with one_thread():
        train(again, images, toy_captions(labels), labels)
        train(other, images, toy_captions(labels), labels, seed=1, steps=10)
    a, b, c = state(enc), state(again), state(other)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the comparison can fail
    assert enc.source is None and enc.digest() == again.digest() != other.digest()  # in-memory weights hashed


def test_batches_never_hold_two_pairs_of_one_group():
    images, labels = toy_data(24, 0)
    captions = [f"{lb} number {i}" for i, lb in enumerate(labels)]  # every caption distinct, groups repeat
    enc = new_small_encoder(TINY, captions, seed=0)
    ids_to_group = {
        tuple(ids.tolist()): lb for ids, lb in zip(enc.tokenize(captions)["input_ids"], labels, strict=True)
    }
    batches: list[list[str]] = []
    forward = enc.model.forward

    def spy(*args, **kwargs):
        batches.append([ids_to_group[tuple(row.tolist())] for row in kwargs["input_ids"]])
        return forward(*args, **kwargs)

    enc.model.forward = spy
    train(enc, images, captions, labels, steps=4, batch_size=4)
    assert len(batches) == 4 and all(len(b) == 4 == len(set(b)) for b in batches)
    batches.clear()
    train(enc, images, captions, labels, steps=2)
    assert all(sorted(b) == sorted(CLASSES) for b in batches)  # batch = one pair of each of the 6 groups

    # default groups: identical captions are one group
    same = [f"a {lb}" for lb in labels]
    enc2 = new_small_encoder(TINY, same, seed=0)
    seen: list[list[str]] = []
    forward2 = enc2.model.forward
    decode = {tuple(ids.tolist()): c for ids, c in zip(enc2.tokenize(same)["input_ids"], same, strict=True)}

    def spy2(*args, **kwargs):
        seen.append([decode[tuple(row.tolist())] for row in kwargs["input_ids"]])
        return forward2(*args, **kwargs)

    enc2.model.forward = spy2
    train(enc2, images, same, None, steps=3)
    assert all(len(b) == 6 == len(set(b)) for b in seen)


def test_save_load_gives_the_same_embeddings(trained, tmp_path):
    enc, *_ = trained
    out = save_encoder(enc, tmp_path / "enc")
    loaded = load_encoder(str(out))
    assert loaded.kind == "siglip" and loaded.text_max_length == TINY.text_max_length
    images, _ = toy_data(6, 5)
    texts = ["a red circle", "a drawing of a blue square"]
    assert torch.allclose(loaded.embed_images(images), enc.embed_images(images), atol=1e-6)
    assert torch.allclose(loaded.embed_texts(texts), enc.embed_texts(texts), atol=1e-6)
    assert loaded.digest() == enc.digest()  # enc.source now points at the saved dir


def test_save_over_existing_dir_is_atomic(tmp_path, monkeypatch):
    out = tmp_path / "encoder"
    first, second = new_tiny(seed=0), new_tiny(seed=1)
    save_encoder(first, out)
    before = load_encoder(str(out)).digest()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(second.image_processor, "save_pretrained", boom)  # after the model file was written
    with pytest.raises(RuntimeError, match="disk full"):
        save_encoder(second, out)
    assert load_encoder(str(out)).digest() == before  # the old one is intact and loadable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder"]  # no temp dirs left behind

    monkeypatch.undo()
    save_encoder(second, out)
    after = load_encoder(str(out))
    assert after.digest() != before
    images, _ = toy_data(2, 0)
    assert torch.allclose(after.embed_images(images), second.embed_images(images), atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder"]


def test_default_spec_size():
    from tutorforge.vision.contrastive import build_small_siglip

    tok = train_caption_tokenizer(toy_captions(toy_data(12, 0)[1]), 2048, 32)
    n = count_params(build_small_siglip(EncoderSpec(), tok))
    assert 1_000_000 < n < 2_000_000  # the default: 4 layers x 128, 96 px in 12-px patches (~1.5M with captions)
    bigger = count_params(build_small_siglip(EncoderSpec(vision_hidden=192, vision_layers=6), tok))
    assert bigger > 1.5 * n
