"""The 3D model catalogue's assets: model id -> GLB asset path (under the app's assets) + animation names.

    DEFAULT_MODELS3D["human_heart"]   # {"asset": "models/human_heart.glb", "animations": ["heartbeat", "blood_flow"]}

The defaults of params.yaml `serve.models3d`: what `show_3d_model` returns to an app and what a diagram's
recommendation names (the diagrams stage reads the same params key). One entry per model id of the tutor's tool
catalogue (tutorforge/tools/specs.py) and per model id a diagram label recommends
(tutorforge/vision/diagrams/catalogue.py); series and parallel circuits share electric_circuit.
"""

from __future__ import annotations

DEFAULT_MODELS3D: dict[str, dict] = {
    "animal_cell": {"asset": "models/animal_cell.glb", "animations": ["rotate", "organelles"]},
    "plant_cell": {"asset": "models/plant_cell.glb", "animations": ["rotate", "photosynthesis"]},
    "dna_double_helix": {"asset": "models/dna_double_helix.glb", "animations": ["rotate", "unzip", "replication"]},
    "human_heart": {"asset": "models/human_heart.glb", "animations": ["heartbeat", "blood_flow"]},
    "water_molecule": {"asset": "models/water_molecule.glb", "animations": ["rotate", "hydrogen_bonding"]},
    "methane_molecule": {"asset": "models/methane_molecule.glb", "animations": ["rotate", "bond_angles"]},
    "sodium_chloride_lattice": {"asset": "models/sodium_chloride_lattice.glb", "animations": ["rotate", "unit_cell"]},
    "atom_bohr": {"asset": "models/atom_bohr.glb", "animations": ["orbits", "electron_jump"]},
    "solar_system": {"asset": "models/solar_system.glb", "animations": ["orbits", "day_night"]},
    "lens_ray_diagram": {"asset": "models/lens_ray_diagram.glb", "animations": ["rays", "move_object"]},
    "pythagoras_triangle": {"asset": "models/pythagoras_triangle.glb", "animations": ["rotate", "area_proof"]},
    "unit_circle": {"asset": "models/unit_circle.glb", "animations": ["sweep_angle", "sine_wave"]},
    "neuron": {"asset": "models/neuron.glb", "animations": ["rotate", "nerve_impulse"]},
    "flower": {"asset": "models/flower.glb", "animations": ["rotate", "pollination"]},
    "food_chain": {"asset": "models/food_chain.glb", "animations": ["energy_flow"]},
    "carbon_dioxide_molecule": {
        "asset": "models/carbon_dioxide_molecule.glb",
        "animations": ["rotate", "vibration_modes"],
    },
    "periodic_table": {"asset": "models/periodic_table.glb", "animations": ["groups", "electron_shells"]},
    "electric_circuit": {"asset": "models/electric_circuit.glb", "animations": ["current_flow", "switch_toggle"]},
    "transverse_wave": {"asset": "models/transverse_wave.glb", "animations": ["propagate", "change_frequency"]},
    "bar_magnet": {"asset": "models/bar_magnet.glb", "animations": ["field_lines", "compass_needles"]},
    "lever": {"asset": "models/lever.glb", "animations": ["balance", "move_fulcrum"]},
}
