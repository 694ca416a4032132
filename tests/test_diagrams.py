"""The procedural diagram generator (tutorforge.vision.diagrams): rendering, families, records, separability."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tutorforge.vision.diagrams import (
    KINDS,
    LABELS,
    MODEL_IDS,
    PHRASEBOOK,
    SUBJECTS,
    render,
    request_for,
    sample_records,
)
from tutorforge.vision.diagrams.captions import QUESTIONS

# The 3D catalogue as params.yaml serve.models3d holds it (assets left out: the generator reads animations only).
MODELS3D = {
    "animal_cell": {"animations": ["rotate", "organelles"]},
    "plant_cell": {"animations": ["rotate", "photosynthesis"]},
    "dna_double_helix": {"animations": ["rotate", "unzip", "replication"]},
    "human_heart": {"animations": ["heartbeat", "blood_flow"]},
    "water_molecule": {"animations": ["rotate", "hydrogen_bonding"]},
    "methane_molecule": {"animations": ["rotate", "bond_angles"]},
    "sodium_chloride_lattice": {"animations": ["rotate", "unit_cell"]},
    "atom_bohr": {"animations": ["orbits", "electron_jump"]},
    "solar_system": {"animations": ["orbits", "day_night"]},
    "lens_ray_diagram": {"animations": ["rays", "move_object"]},
    "pythagoras_triangle": {"animations": ["rotate", "area_proof"]},
    "unit_circle": {"animations": ["sweep_angle", "sine_wave"]},
    "neuron": {"animations": ["rotate", "nerve_impulse"]},
    "flower": {"animations": ["rotate", "pollination"]},
    "food_chain": {"animations": ["energy_flow"]},
    "carbon_dioxide_molecule": {"animations": ["rotate", "vibration_modes"]},
    "periodic_table": {"animations": ["groups", "electron_shells"]},
    "electric_circuit": {"animations": ["current_flow", "switch_toggle"]},
    "transverse_wave": {"animations": ["propagate", "change_frequency"]},
    "bar_magnet": {"animations": ["field_lines", "compass_needles"]},
    "lever": {"animations": ["balance", "move_fulcrum"]},
}
RECORD_KEYS = {
    "id",
    "label",
    "subject",
    "model_id",
    "family",
    "seed",
    "style",
    "caption",
    "facts",
    "qa",
    "recommendation",
}


def _ink_fraction(image: Image.Image) -> float:
    """Share of pixels that differ clearly from the background (the median colour of the border)."""
    a = np.asarray(image, dtype=np.int16)
    background = np.median(np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]]), axis=0)
    return float((np.abs(a - background).sum(axis=2) > 60).mean())


@pytest.fixture(scope="module")
def renders() -> dict[tuple[str, int, int], tuple[Image.Image, dict]]:
    """Every label in every style for seeds 0 and 1 at 224 px; also measures the render time (printed)."""
    out = {}
    start = time.perf_counter()
    for label in LABELS:
        for seed in (0, 1):
            for style in (0, 1, 2):
                out[label, seed, style] = render(label, seed, style)
    print(f"\nrender: {(time.perf_counter() - start) / len(out) * 1000:.1f} ms per 224 px diagram")
    return out


def test_catalogue_labels_subjects_and_models() -> None:
    assert len(LABELS) >= 20 and len(LABELS) == 22
    assert set(SUBJECTS) == {"biology", "chemistry", "physics", "mathematics"}
    assert set(MODEL_IDS) == set(MODELS3D)
    assert KINDS["atom_bohr"].subject == "physics"
    assert KINDS["series_circuit"].model_id == KINDS["parallel_circuit"].model_id == "electric_circuit"
    assert KINDS["periodic_table_block"].model_id == "periodic_table"
    assert LABELS[0] == "animal_cell" and LABELS[-1] == "unit_circle"


def test_every_label_renders_real_content_in_every_style(renders) -> None:
    for (label, seed, style), (image, facts) in renders.items():
        assert image.mode == "RGB" and image.size == (224, 224), (label, style)
        ink = _ink_fraction(image.crop((0, 0, 224, 190)))  # above the style-2 caption bar
        assert ink > 0.015, f"{label} seed {seed} style {style} is nearly blank ({ink:.3f})"
        assert facts, label


def test_render_is_deterministic_and_seeds_and_styles_differ(renders) -> None:
    for label in LABELS:
        again, facts = render(label, 0, 1)
        first, first_facts = renders[label, 0, 1]
        assert again.tobytes() == first.tobytes(), label
        assert facts == first_facts
        styles = [renders[label, 0, y][0].tobytes() for y in (0, 1, 2)]
        assert len(set(styles)) == 3, label
        a = np.asarray(renders[label, 0, 1][0], dtype=np.int16)
        b = np.asarray(renders[label, 1, 1][0], dtype=np.int16)
        assert np.abs(a - b).mean() > 3, f"{label}: seeds 0 and 1 look nearly the same"


def test_facts_are_the_same_in_every_style(renders) -> None:
    for label in LABELS:
        for seed in (0, 1):
            facts = [renders[label, seed, y][1] for y in (0, 1, 2)]
            assert facts[0] == facts[1] == facts[2], label
        variants = {repr(render(label, seed, 0, 32)[1]) for seed in range(6)}
        assert len(variants) >= 2, f"{label}: six seeds drew the same facts"


def test_facts_describe_what_is_drawn() -> None:
    _, circuit = render("series_circuit", 3, 0)
    assert set(circuit) >= {"cells", "resistors"} and 1 <= circuit["resistors"] <= 4
    _, atom = render("atom_bohr", 5, 0)
    assert atom["shells"] == len(atom["electrons"]) and sum(atom["electrons"]) == atom["protons"]
    _, tri = render("pythagoras_triangle", 2, 0)
    assert tri["a"] ** 2 + tri["b"] ** 2 == tri["c"] ** 2
    _, chain = render("food_chain", 4, 0)
    assert chain["producer"] == chain["organisms"][0] and len(chain["organisms"]) >= 3
    _, lens = render("lens_ray_diagram", 1, 0)
    assert lens["object_distance"] in {"beyond 2F", "at 2F", "between F and 2F", "inside F"}
    with pytest.raises(KeyError):
        render("octopus", 0, 0)
    with pytest.raises(ValueError):
        render("lever", 0, 3)


def test_records_shape_answers_and_recommendations() -> None:
    records = sample_records(LABELS, [0, 7], [0, 1, 2], MODELS3D)
    assert len(records) == len(LABELS) * 2 * 3
    for r in records:
        assert set(r) == RECORD_KEYS
        label, seed, style = r["label"], r["seed"], r["style"]
        kind = KINDS[label]
        assert r["id"] == f"{label}-s{seed}-y{style}" and r["family"] == f"{label}-s{seed}"
        assert (r["subject"], r["model_id"]) == (kind.subject, kind.model_id)
        assert r["facts"] == render(label, seed, style, 64)[1]
        assert kind.title[1:] in r["caption"], (kind.title, r["caption"])
        assert any(p in r["caption"] for p in kind.parts)
        assert r["caption"].startswith("Figure ") == (style == 2)
        assert len(r["qa"]) == 2
        assert r["qa"][0]["question"] == "What does this diagram show?"
        assert kind.title in r["qa"][0]["answer"] and kind.subject in r["qa"][0]["answer"]
        assert (r["qa"][1]["question"], r["qa"][1]["answer"]) == QUESTIONS[label](r["facts"])
        rec = r["recommendation"]
        assert set(rec) == {"request", "model_id", "animation", "reply"}
        assert rec["model_id"] == kind.model_id and rec["animation"] in MODELS3D[kind.model_id]["animations"]
        assert rec["request"] == request_for(rec["animation"]) == PHRASEBOOK[rec["animation"]]
        for word in (kind.subject, kind.title, kind.model_id, rec["animation"]):
            assert word in rec["reply"], (word, rec["reply"])
    by_family: dict[str, set] = {}
    for r in records:
        by_family.setdefault(r["family"], set()).add(repr(r["facts"]))
    assert all(len(v) == 1 for v in by_family.values())


def test_qa_answers_come_from_the_facts() -> None:
    (series,) = sample_records(["series_circuit"], [3], [1], MODELS3D)
    assert series["qa"][1] == {
        "question": "How many resistors are in the circuit?",
        "answer": str(series["facts"]["resistors"]),
    }
    (atom,) = sample_records(["atom_bohr"], [5], [0], MODELS3D)
    assert atom["qa"][1]["answer"] == str(atom["facts"]["electrons"][-1])
    (tri,) = sample_records(["pythagoras_triangle"], [2], [2], MODELS3D)
    assert tri["qa"][1] == {"question": "What is the length of the hypotenuse?", "answer": str(tri["facts"]["c"])}
    (heart,) = sample_records(["human_heart"], [17], [2], MODELS3D)  # the record in the records.py docstring
    assert heart["caption"] == (
        "Figure 3.4: The human heart with four chambers and blood-flow arrows, showing the left and right ventricles."
    )
    assert heart["recommendation"]["animation"] == "heartbeat" and heart["facts"]["blood_flow_arrows"] is True


def test_animation_requests_and_fallback() -> None:
    assert request_for("blood_flow") == "show me how blood flows through the heart"
    assert request_for("heartbeat") == "can I see the heart beating?"
    assert {a for spec in MODELS3D.values() for a in spec["animations"]} <= set(PHRASEBOOK)
    assert request_for("spin_really_fast") == "show me the spin really fast"
    catalogue = dict(MODELS3D, human_heart={"animations": ["valve_close"]})
    (r,) = sample_records(["human_heart"], [1], [0], catalogue)
    assert r["recommendation"]["animation"] == "valve_close"
    assert r["recommendation"]["request"] == "show me the valve close"
    missing = {k: v for k, v in MODELS3D.items() if k != "electric_circuit"}
    with pytest.raises(KeyError, match="electric_circuit"):
        sample_records(["parallel_circuit"], [0], [0], missing)


def _features(label: str, seed: int, style: int) -> np.ndarray:
    """32 x 32 greyscale pixels (strokes thickened first so thin lines survive), centred and unit-normed."""
    grey = render(label, seed, style, 64)[0].convert("L").filter(ImageFilter.MinFilter(3))
    v = np.asarray(grey.resize((32, 32), Image.Resampling.BOX), dtype=np.float64).ravel()
    v -= v.mean()
    return v / (np.linalg.norm(v) + 1e-9)


def test_labels_are_separable_by_a_nearest_centroid_classifier() -> None:
    """Nearest centroid on 32 x 32 grey pixels, trained on seeds 0-19 and tested on seeds 100-109 (styles 0, 1)."""
    centroids = np.stack([np.mean([_features(lab, s, y) for s in range(20) for y in (0, 1)], axis=0) for lab in LABELS])
    hits = total = 0
    for i, label in enumerate(LABELS):
        for seed in range(100, 110):
            for style in (0, 1):
                guess = int(np.argmin(((centroids - _features(label, seed, style)) ** 2).sum(axis=1)))
                hits += guess == i
                total += 1
    accuracy = hits / total
    print(f"\nnearest-centroid top-1: {accuracy:.3f} on {total} held-out diagrams (chance {1 / len(LABELS):.3f})")
    assert accuracy >= 0.7
