"""Student requests for 3D-model animations: animation name -> what a student would type to see it.

    request_for("blood_flow")   # "show me how blood flows through the heart"
    request_for("spin_fast")    # "show me the spin fast" (the fallback for names not in the phrasebook)

The animations themselves come from the caller's 3D catalogue (params.yaml serve.models3d); this module only
knows how students ask for them.
"""

from __future__ import annotations

PHRASEBOOK: dict[str, str] = {
    "rotate": "can I rotate it and look at it in 3D?",
    "organelles": "show me the organelles inside the cell",
    "photosynthesis": "show me photosynthesis happening in the chloroplasts",
    "unzip": "show me the DNA unzipping",
    "replication": "how does DNA copy itself? show me",
    "heartbeat": "can I see the heart beating?",
    "blood_flow": "show me how blood flows through the heart",
    "hydrogen_bonding": "show me how water molecules form hydrogen bonds",
    "bond_angles": "show me the bond angles in 3D",
    "unit_cell": "show me the unit cell of the lattice",
    "orbits": "can I see them moving round their orbits?",
    "electron_jump": "show me an electron jumping to another shell",
    "day_night": "show me how we get day and night",
    "rays": "show me how the light rays go through the lens",
    "move_object": "what happens to the image if I move the object?",
    "area_proof": "show me the proof with the squares on the sides",
    "sweep_angle": "show me the angle going round the circle",
    "sine_wave": "how does the unit circle make a sine wave?",
    "nerve_impulse": "show me a nerve impulse travelling along the neuron",
    "pollination": "show me how pollination works",
    "energy_flow": "show me how energy moves along the food chain",
    "vibration_modes": "show me how the molecule vibrates",
    "groups": "show me the groups of the periodic table",
    "electron_shells": "show me the electron shells of these elements",
    "current_flow": "show me the current flowing round the circuit",
    "switch_toggle": "what happens when I open and close the switch?",
    "propagate": "show me the wave moving along",
    "change_frequency": "what happens if I change the frequency?",
    "field_lines": "show me the magnetic field lines in 3D",
    "compass_needles": "which way do compass needles point around the magnet?",
    "balance": "show me how the lever balances",
    "move_fulcrum": "what happens if I move the fulcrum?",
}


def request_for(animation: str) -> str:
    """What a student types to ask for `animation`; "show me the <name with spaces>" for unknown names."""
    return PHRASEBOOK.get(animation) or f"show me the {animation.replace('_', ' ')}"
