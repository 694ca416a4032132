"""Sections -> synthetic instruction examples: deterministic templates (cloze, definition, why, worked, MC,
Socratic, tool calls, paraphrases), optional teacher LMs (local HF or an OpenAI-compatible endpoint), quality filters.

An example record (artifacts/synth/examples.jsonl):

    {"example_id": "00c77412b5786dca", "kind": "why", "source": "synth:template", "section_id": "45a08d28f16e831d",
     "subject": "chemistry", "messages": [{"role": "user", "content": "Explain why the temperature falls; ..."},
                                          {"role": "assistant", "content": "Because an endothermic reaction ..."}],
     "meta": {"question_type": "why", "marker": "therefore"},
     "provenance": {"generator": "deterministic", "file": "chemistry.pdf", "page": 7, "seed": 1337, ...}}
"""
