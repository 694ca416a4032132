"""The 22 diagram kinds: label -> subject, 3D model, title, captioned parts and draw function.

    KINDS["series_circuit"].model_id    # "electric_circuit" (parallel_circuit shares it)
    LABELS, SUBJECTS, MODEL_IDS         # label order as in KINDS; the 4 subjects; the model ids the labels use

MODEL_IDS is what the caller checks its 3D catalogue (params.yaml serve.models3d) against: every id needs an entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tutorforge.vision.diagrams import biology, chemistry, mathematics, physics
from tutorforge.vision.diagrams.canvas import Canvas


@dataclass(frozen=True)
class DiagramKind:
    """One label the tutor classifies a diagram into."""

    label: str
    """The class label, e.g. "series_circuit"."""
    subject: str
    """The school subject: biology, chemistry, physics or mathematics."""
    model_id: str
    """The 3D model the tutor recommends (a key of the serve.models3d catalogue); labels may share one."""
    title: str
    """What the diagram shows, with its article, as used in captions: "a series circuit"."""
    parts: tuple[str, ...]
    """Parts that every variant draws, with their article, for captions: ("the cell", "the resistors")."""
    draw: Callable[[Canvas], dict[str, Any]]
    """Draws one variant on the canvas and returns its facts (JSON values)."""


_B, _C, _P, _M = "biology", "chemistry", "physics", "mathematics"
KINDS: dict[str, DiagramKind] = {
    k.label: k
    for k in (
        DiagramKind("animal_cell", _B, "animal_cell", "an animal cell", ("the cell membrane", "the nucleus", "the cytoplasm", "the mitochondria"), biology.draw_animal_cell),
        DiagramKind("plant_cell", _B, "plant_cell", "a plant cell", ("the cell wall", "the large vacuole", "the chloroplasts", "the nucleus"), biology.draw_plant_cell),
        DiagramKind("dna_double_helix", _B, "dna_double_helix", "the DNA double helix", ("the two sugar-phosphate backbones", "the base pairs"), biology.draw_dna_double_helix),
        DiagramKind("human_heart", _B, "human_heart", "the human heart", ("the left and right atria", "the left and right ventricles", "the aorta", "the vena cava"), biology.draw_human_heart),
        DiagramKind("neuron", _B, "neuron", "a neuron (nerve cell)", ("the cell body", "the dendrites", "the axon", "the myelin sheath", "the axon terminals"), biology.draw_neuron),
        DiagramKind("flower", _B, "flower", "the parts of a flower", ("the petals", "the stamens", "the stigma", "the sepals", "the stem"), biology.draw_flower),
        DiagramKind("food_chain", _B, "food_chain", "a food chain", ("the producer", "the consumers", "the arrows showing the flow of energy"), biology.draw_food_chain),
        DiagramKind("water_molecule", _C, "water_molecule", "a water molecule", ("the oxygen atom", "the two hydrogen atoms"), chemistry.draw_water_molecule),
        DiagramKind("methane_molecule", _C, "methane_molecule", "a methane molecule", ("the carbon atom", "the four hydrogen atoms", "the C-H bonds"), chemistry.draw_methane_molecule),
        DiagramKind("carbon_dioxide_molecule", _C, "carbon_dioxide_molecule", "a carbon dioxide molecule", ("the carbon atom", "the two oxygen atoms"), chemistry.draw_carbon_dioxide_molecule),
        DiagramKind("sodium_chloride_lattice", _C, "sodium_chloride_lattice", "the sodium chloride lattice", ("the sodium ions", "the chloride ions", "the cubic arrangement of ions"), chemistry.draw_sodium_chloride_lattice),
        DiagramKind("periodic_table_block", _C, "periodic_table", "a block of the periodic table", ("the groups", "the periods", "the element symbols", "the atomic numbers"), chemistry.draw_periodic_table_block),
        DiagramKind("atom_bohr", _P, "atom_bohr", "the Bohr model of the atom", ("the nucleus", "the electron shells", "the electrons"), physics.draw_atom_bohr),
        DiagramKind("lens_ray_diagram", _P, "lens_ray_diagram", "a converging lens ray diagram", ("the converging lens", "the principal axis", "the focal points", "the object", "the image", "the light rays"), physics.draw_lens_ray_diagram),
        DiagramKind("series_circuit", _P, "electric_circuit", "a series circuit", ("the cell", "the resistors", "the connecting wires"), physics.draw_series_circuit),
        DiagramKind("parallel_circuit", _P, "electric_circuit", "a parallel circuit", ("the cell", "the parallel branches", "the junctions"), physics.draw_parallel_circuit),
        DiagramKind("transverse_wave", _P, "transverse_wave", "a transverse wave", ("the crests", "the troughs", "the equilibrium line"), physics.draw_transverse_wave),
        DiagramKind("bar_magnet_field", _P, "bar_magnet", "the magnetic field of a bar magnet", ("the north pole", "the south pole", "the magnetic field lines"), physics.draw_bar_magnet_field),
        DiagramKind("solar_system", _P, "solar_system", "the solar system", ("the Sun", "the planets", "the orbits"), physics.draw_solar_system),
        DiagramKind("lever", _P, "lever", "a lever", ("the fulcrum", "the load", "the effort", "the beam"), physics.draw_lever),
        DiagramKind("pythagoras_triangle", _M, "pythagoras_triangle", "a right-angled triangle (Pythagoras)", ("the right angle", "the hypotenuse", "the two shorter sides"), mathematics.draw_pythagoras_triangle),
        DiagramKind("unit_circle", _M, "unit_circle", "the unit circle", ("the x and y axes", "the radius of length 1", "the marked angle"), mathematics.draw_unit_circle),
    )
}  # fmt: skip
LABELS: tuple[str, ...] = tuple(KINDS)
SUBJECTS: tuple[str, ...] = tuple(dict.fromkeys(k.subject for k in KINDS.values()))
MODEL_IDS: frozenset[str] = frozenset(k.model_id for k in KINDS.values())
