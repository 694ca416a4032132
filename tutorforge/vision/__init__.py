"""Diagrams: deterministic procedural school diagrams (tutorforge.vision.diagrams) for the vision encoder and tutor."""
