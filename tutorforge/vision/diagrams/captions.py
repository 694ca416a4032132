"""Captions and question-answer pairs for a drawn diagram, worded from its kind and its facts.

    caption(kind, facts, style, figure, rng)   # "Figure 4.2: The human heart, showing the aorta."
    clause(label, facts)                        # "with four chambers" (the fact a caption or reply states)
    qa(kind, facts)                             # [{"question": "What does this diagram show?", ...}, {...}]

Style 2 captions are textbook ones ("Figure n.m: ..."), styles 0 and 1 plain sentences; each names the title and
1-3 of the kind's parts, and most state the clause. The label-specific question is answered from the facts alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from tutorforge.vision.diagrams.catalogue import DiagramKind

Facts = dict[str, Any]
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def words(n: int) -> str:
    """Small counts as words ("three"), larger ones as digits."""
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """ "one cell", "three resistors"."""
    return f"{words(n)} {noun if n == 1 else plural or noun + 's'}"


def join(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def upper_first(s: str) -> str:
    return s[:1].upper() + s[1:]


ORDINAL = {1: "first", 2: "second", 3: "third"}

CLAUSES: dict[str, Callable[[Facts], str]] = {
    "animal_cell": lambda f: (
        f"with a nucleus and {count(f['mitochondria'], 'mitochondrion', 'mitochondria')} but no cell wall"
    ),
    "plant_cell": lambda f: f"with a cell wall, a large vacuole and {count(f['chloroplasts'], 'chloroplast')}",
    "dna_double_helix": lambda f: (
        f"with {count(f['turns'], 'turn')} of the helix and {count(f['base_pairs'], 'base pair')}"
    ),
    "human_heart": lambda f: "with four chambers" + (" and blood-flow arrows" if f["blood_flow_arrows"] else ""),
    "neuron": lambda f: (
        f"with {count(f['dendrites'], 'dendrite')} and {count(f['myelin_segments'], 'segment')} of myelin sheath"
    ),
    "flower": lambda f: f"with {words(f['petals'])} {f['petal_colour']} petals and {count(f['stamens'], 'stamen')}",
    "food_chain": lambda f: "in which energy passes from " + " to ".join(f"the {o}" for o in f["organisms"]),
    "water_molecule": lambda f: f"drawn as a {f['model']} model, bent with a bond angle of 104.5 degrees",
    "methane_molecule": lambda f: f"drawn as a {f['model']} model, with four hydrogen atoms bonded to one carbon atom",
    "carbon_dioxide_molecule": lambda f: f"drawn as a {f['model']} model: a linear molecule with two double bonds",
    "sodium_chloride_lattice": lambda f: (
        f"with {words(f['ions_per_edge'])} ions along each edge, sodium and chloride ions alternating"
    ),
    "periodic_table_block": lambda f: (
        f"covering periods {f['periods'][0]} to {f['periods'][-1]}, with group {f['highlighted_group']} ({f['group_name']}) highlighted"
    ),
    "atom_bohr": lambda f: f"for {f['element']}, with the electrons arranged {', '.join(map(str, f['electrons']))}",
    "lens_ray_diagram": lambda f: f"with the object {f['object_distance']}, forming an image that is {f['image']}",
    "series_circuit": lambda f: (
        f"with {count(f['cells'], 'cell')} and {count(f['resistors'], 'resistor')} in a single loop"
    ),
    "parallel_circuit": lambda f: (
        f"with {count(f['cells'], 'cell')} and {count(f['branches'], 'branch', 'branches')} side by side"
    ),
    "transverse_wave": lambda f: f"of {count(f['wavelengths'], 'complete wavelength')}, travelling {f['direction']}",
    "bar_magnet_field": lambda f: (
        f"with the north pole at the {f['north_pole']} and field lines running from north to south"
    ),
    "solar_system": lambda f: f"with the Sun and {count(f['planets'], 'planet')}",
    "lever": lambda f: f"of the {ORDINAL[f['class']]} class, with the fulcrum {f['fulcrum']}",
    "pythagoras_triangle": lambda f: f"with shorter sides {f['a']} and {f['b']}, so the hypotenuse is {f['c']}",
    "unit_circle": lambda f: f"with an angle of {f['angle_degrees']} degrees marked",
}

QUESTIONS: dict[str, Callable[[Facts], tuple[str, str]]] = {
    "animal_cell": lambda f: ("How many mitochondria are drawn in the cell?", str(f["mitochondria"])),
    "plant_cell": lambda f: ("How many chloroplasts are drawn in the cell?", str(f["chloroplasts"])),
    "dna_double_helix": lambda f: ("How many base pairs are drawn?", str(f["base_pairs"])),
    "human_heart": lambda f: ("Which blood vessels are drawn?", join([f"the {v}" for v in f["vessels"]])),
    "neuron": lambda f: ("How many dendrites leave the cell body?", str(f["dendrites"])),
    "flower": lambda f: ("How many petals does the flower have?", str(f["petals"])),
    "food_chain": lambda f: ("Which organism is the producer in this food chain?", f["producer"]),
    "water_molecule": lambda f: ("What is the bond angle in this molecule?", f"{f['bond_angle']} degrees"),
    "methane_molecule": lambda f: ("How many hydrogen atoms are bonded to the carbon atom?", str(f["atoms"]["H"])),
    "carbon_dioxide_molecule": lambda f: ("What shape is this molecule?", f"{f['shape']}, with a bond angle of {f['bond_angle']} degrees"),
    "sodium_chloride_lattice": lambda f: ("How many ions are drawn in this part of the lattice?", str(f["ions"])),
    "periodic_table_block": lambda f: ("Which group is highlighted?", f"group {f['highlighted_group']}, {f['group_name']}"),
    "atom_bohr": lambda f: ("How many electrons are in the outer shell?", str(f["electrons"][-1])),
    "lens_ray_diagram": lambda f: ("What kind of image does the lens form?", f["image"]),
    "series_circuit": lambda f: ("How many resistors are in the circuit?", str(f["resistors"])),
    "parallel_circuit": lambda f: ("How many parallel branches are there?", str(f["branches"])),
    "transverse_wave": lambda f: ("How many complete wavelengths are shown?", str(f["wavelengths"])),
    "bar_magnet_field": lambda f: ("Which end of the magnet is the north pole?", f"the {f['north_pole']} end"),
    "solar_system": lambda f: ("How many planets are shown?", str(f["planets"])),
    "lever": lambda f: ("What class of lever is this?", f"a {ORDINAL[f['class']]}-class lever"),
    "pythagoras_triangle": lambda f: ("What is the length of the hypotenuse?", str(f["c"])),
    "unit_circle": lambda f: ("What angle is marked on the unit circle?", f"{f['angle_degrees']} degrees"),
}  # fmt: skip

PLAIN = (
    "{Title} {clause}. The diagram shows {parts}.",
    "A diagram of {title} showing {parts}.",
    "This {subject} diagram shows {title} {clause}, including {parts}.",
    "A simple drawing of {title}: {parts} can be seen.",
    "{Title} {clause}. It includes {parts}.",
)
TEXTBOOK = (
    "Figure {fig}: {Title}, showing {parts}.",
    "Figure {fig}: {Title} {clause}, showing {parts}.",
    "Figure {fig}: {Title} {clause}. Note {parts}.",
)


def clause(label: str, facts: Facts) -> str:
    """The fact a caption or reply states about this variant ("with one cell and three resistors in a single loop")."""
    return CLAUSES[label](facts)


def caption(kind: DiagramKind, facts: Facts, style: int, figure: tuple[int, int], rng: random.Random) -> str:
    """A caption naming the title and 1-3 parts; a "Figure n.m:" one for the textbook style."""
    parts = rng.sample(kind.parts, rng.randint(1, min(3, len(kind.parts))))
    template = rng.choice(TEXTBOOK if style == 2 else PLAIN)
    return template.format(
        fig=f"{figure[0]}.{figure[1]}",
        Title=upper_first(kind.title),
        title=kind.title,
        subject=kind.subject,
        parts=join(parts),
        clause=clause(kind.label, facts),
    )


def qa(kind: DiagramKind, facts: Facts) -> list[dict[str, str]]:
    """Two question-answer pairs: what the diagram shows, and a label-specific one answered from the facts."""
    question, answer = QUESTIONS[kind.label](facts)
    return [
        {
            "question": "What does this diagram show?",
            "answer": f"It shows {kind.title}; it is a {kind.subject} diagram.",
        },
        {"question": question, "answer": answer},
    ]
