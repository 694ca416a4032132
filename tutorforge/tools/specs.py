"""The tutor's tools: JSON-schema-like specs, a 3D-model catalogue, and a validator for tool calls.

    from tutorforge.tools.specs import tool_specs, validate_call
    problems = validate_call({"name": "make_quiz", "arguments": {"topic": "cells", "n_questions": 3}}, catalogue)
    # [] when valid, else human-readable reasons ("unknown tool 'foo'", "make_quiz.n_questions: expected integer")

Used by the synth stage (filtering generated tool calls), and by anything that scores a model's tool calls.
The catalogue maps model_id -> {title, subject, keywords}; `show_3d_model` only accepts ids in it.
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_CATALOGUE: dict[str, dict[str, Any]] = {
    "animal_cell": {
        "title": "an animal cell",
        "subject": "biology",
        "keywords": ["animal cell", "cell membrane", "mitochondria", "cytoplasm", "nucleus"],
    },
    "plant_cell": {
        "title": "a plant cell",
        "subject": "biology",
        "keywords": ["plant cell", "cell wall", "chloroplast", "vacuole"],
    },
    "dna_double_helix": {
        "title": "the DNA double helix",
        "subject": "biology",
        "keywords": ["dna", "double helix", "base pair", "nucleotide"],
    },
    "human_heart": {
        "title": "the human heart",
        "subject": "biology",
        "keywords": ["heart", "ventricle", "atrium", "artery", "circulation"],
    },
    "water_molecule": {
        "title": "a water molecule",
        "subject": "chemistry",
        "keywords": ["water molecule", "h2o", "hydrogen bond", "polar"],
    },
    "methane_molecule": {
        "title": "a methane molecule",
        "subject": "chemistry",
        "keywords": ["methane", "ch4", "tetrahedral", "covalent bond"],
    },
    "sodium_chloride_lattice": {
        "title": "the sodium chloride lattice",
        "subject": "chemistry",
        "keywords": ["sodium chloride", "ionic lattice", "ionic bond", "crystal"],
    },
    "atom_bohr": {
        "title": "the Bohr model of the atom",
        "subject": "physics",
        "keywords": ["atom", "electron", "nucleus", "proton", "neutron", "shell"],
    },
    "solar_system": {
        "title": "the solar system",
        "subject": "physics",
        "keywords": ["solar system", "planet", "orbit", "sun", "gravity"],
    },
    "lens_ray_diagram": {
        "title": "a converging lens ray diagram",
        "subject": "physics",
        "keywords": ["lens", "focal", "refraction", "ray"],
    },
    "pythagoras_triangle": {
        "title": "a right-angled triangle (Pythagoras)",
        "subject": "mathematics",
        "keywords": ["pythagoras", "hypotenuse", "right-angled", "right angle", "triangle"],
    },
    "unit_circle": {
        "title": "the unit circle",
        "subject": "mathematics",
        "keywords": ["unit circle", "sine", "cosine", "radian", "circle"],
    },
}


def tool_specs(catalogue: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """name -> {description, parameters (JSON-schema subset: type/properties/required/additionalProperties)}."""
    return {
        "search_textbook": {
            "description": "Search the student's textbook and return the best matching sections with page numbers.",
            "parameters": {
                "type": "object",
                "additionalProperties": False,
                "required": ["query"],
                "properties": {"query": {"type": "string", "minLength": 2, "maxLength": 200}},
            },
        },
        "make_quiz": {
            "description": "Make a short quiz on a topic from the textbook.",
            "parameters": {
                "type": "object",
                "additionalProperties": False,
                "required": ["topic", "n_questions"],
                "properties": {
                    "topic": {"type": "string", "minLength": 2, "maxLength": 120},
                    "n_questions": {"type": "integer", "minimum": 1, "maximum": 10},
                },
            },
        },
        "show_3d_model": {
            "description": "Show an interactive 3D model to the student.",
            "parameters": {
                "type": "object",
                "additionalProperties": False,
                "required": ["model_id"],
                "properties": {"model_id": {"type": "string", "enum": sorted(catalogue)}},
            },
        },
    }


def openai_tools(catalogue: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The specs in OpenAI chat-completions `tools` format."""
    return [{"type": "function", "function": {"name": n, **s}} for n, s in tool_specs(catalogue).items()]


def signatures(catalogue: dict[str, dict[str, Any]]) -> str:
    """One line per tool, short enough for a system prompt of a small model."""
    return (
        "search_textbook(query: string)\nmake_quiz(topic: string, n_questions: integer 1-10)\n"
        f"show_3d_model(model_id: one of {', '.join(sorted(catalogue))})"
    )


_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict}


def _check(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    t = schema.get("type")
    if t and (not isinstance(value, _TYPES[t]) or (t in ("integer", "number") and isinstance(value, bool))):
        return [f"{where}: expected {t}, got {type(value).__name__} {value!r}"[:160]]
    out = []
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} not in allowed values"[:160])
    if isinstance(value, str):
        if len(value.strip()) < schema.get("minLength", 0):
            out.append(f"{where}: shorter than {schema['minLength']} characters")
        if len(value) > schema.get("maxLength", 10**9):
            out.append(f"{where}: longer than {schema['maxLength']} characters")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < schema.get("minimum", -float("inf")) or value > schema.get("maximum", float("inf")):
            out.append(f"{where}: {value} outside [{schema.get('minimum')}, {schema.get('maximum')}]")
    if t == "object":
        assert isinstance(value, dict)  # type-checked against _TYPES["object"] above
        props = schema.get("properties", {})
        out += [f"{where}: missing required argument '{k}'" for k in schema.get("required", []) if k not in value]
        if schema.get("additionalProperties") is False:
            out += [f"{where}: unexpected argument '{k}'" for k in value if k not in props]
        for k, v in value.items():
            if k in props:
                out += _check(v, props[k], f"{where}.{k}")
    return out


def validate_call(call: Any, catalogue: dict[str, dict[str, Any]]) -> list[str]:
    """Reasons why `call` ({name, arguments}) is not a valid tutor tool call; [] if it is."""
    if not isinstance(call, dict) or "name" not in call:
        return ["tool call is not an object with a 'name'"]
    specs = tool_specs(catalogue)
    name = call["name"]
    if name not in specs:
        return [f"unknown tool {name!r}"[:160]]
    args = call.get("arguments", {})
    if isinstance(args, str):  # OpenAI wire format sends arguments as a JSON string
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return [f"{name}: arguments are not valid JSON"]
    if not isinstance(args, dict):
        return [f"{name}: arguments must be an object"]
    return _check(args, specs[name]["parameters"], name)


def parse_call(text: str) -> dict[str, Any] | None:
    """The first JSON object in `text` that looks like {name, arguments} (model output), else None."""
    dec = json.JSONDecoder()
    i = text.find("{")
    while i != -1:
        try:
            obj, _ = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and "name" in obj:
            args = obj.get("arguments", obj.get("parameters", {}))
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    pass
            return {"name": obj["name"], "arguments": args}
        i = text.find("{", i + 1)
    return None
