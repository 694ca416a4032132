"""Tool calls that always parse and validate: grammar-constrained decoding of the tutor's `<tool_call>` blocks.

The model writes free text; once it opens `<tool_call>`, the rest of the block must be one call as SFT renders it,
`{"name": <a tutor tool>, "arguments": <an object valid against that tool's JSON schema>}</tool_call>`, so a
`show_3d_model` call can only name a catalogue model and `make_quiz` only ask for 1-10 questions:

    grammar = ToolCallGrammar(tokenizer, DEFAULT_CATALOGUE, vocab_size=model.config.vocab_size)
    model.generate(**inputs, logits_processor=[grammar.logits_processor()])
    # '<tool_call>{"name": "show_3d_model", "arguments": {"model_id": "plant_cell"}}</tool_call>'
    # (unconstrained, the same model wrote "model_id": "chloroplasts")

Built on xgrammar's structural tags (the engine behind vLLM's and SGLang's structured outputs and tool calling), so a
vLLM backend can enforce the same schema with `structured_outputs`; which call and which model id still come from the
model's own scores. evaluate reports tool-call accuracy with and without the constraint.
"""

from __future__ import annotations

from typing import Any

from tutorforge.tools.specs import tool_specs

CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"


def call_schemas(catalogue: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """name -> the JSON schema of its arguments, properties in sorted order (SFT data stores arguments with sorted
    keys, and the grammar fixes the order the model has seen)."""
    out = {}
    for name, spec in tool_specs(catalogue).items():
        schema = dict(spec["parameters"])
        schema["properties"] = dict(sorted(schema["properties"].items()))
        out[name] = schema
    return out


class ToolCallGrammar:
    """One compiled grammar per (tokenizer, catalogue); `logits_processor()` gives a fresh processor per generate()
    call (xgrammar's processors keep per-row matcher state)."""

    def __init__(
        self,
        tokenizer: Any,
        catalogue: dict[str, dict[str, Any]],
        vocab_size: int | None = None,
        stop_token_ids: list[int] | None = None,
    ) -> None:
        import xgrammar as xgr
        from xgrammar import structural_tag as st

        info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids or None
        )
        tags = [
            st.TagFormat(
                begin=f'{CALL_OPEN}{{"name": "{name}", "arguments": ',
                # one space at most where JSON allows whitespace: SFT's json.dumps layout, and no endless padding
                content=st.JSONSchemaFormat(json_schema=schema, max_whitespace_cnt=1),
                end=f"}}{CALL_CLOSE}",
            )
            for name, schema in call_schemas(catalogue).items()
        ]
        fmt = st.StructuralTag(format=st.TriggeredTagsFormat(triggers=[CALL_OPEN], tags=tags))
        self.compiled = xgr.GrammarCompiler(info).compile_structural_tag(fmt)

    def logits_processor(self) -> Any:
        """A transformers LogitsProcessor enforcing the grammar on every row of one generate() call."""
        from xgrammar.contrib.hf import LogitsProcessor

        return LogitsProcessor(self.compiled)
