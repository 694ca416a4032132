"""The generation engine in process: a lone request decodes outside the batch (serve.solo_decode) and gives the same
greedy text as in the batch; a second request moves it into the batch without changing either answer; a lone
request whose client leaves frees everything and the next one decodes alone again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.support.bundles import smollm2
from tutorforge.serve.config import ServeConfig
from tutorforge.serve.engine import Engine

QUESTIONS = ["What is osmosis?", "Write a long essay about the planets of the solar system."]


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[Engine, Engine]]:
    """(solo decode on, solo decode off) on the same SmolLM2 weights."""
    solo = Engine.load(smollm2(), ServeConfig(solo_decode=True))
    batched = Engine(solo.tokenizer, solo.model, ServeConfig(solo_decode=False))
    yield solo, batched
    solo.close()
    batched.close()


def prompt(engine: Engine, question: str) -> list[int]:
    return engine.prompt_ids([{"role": "user", "content": question}])


async def answer(engine: Engine, question: str, max_new_tokens: int, started: asyncio.Event | None = None):
    text, last = [], None
    async for piece in engine.stream(prompt(engine, question), max_new_tokens):
        text.append(piece.text)
        last = piece
        if started is not None and piece.tokens >= 4:
            started.set()
    return "".join(text), last.tokens, last.finish_reason


def test_a_lone_request_gives_the_batch_s_greedy_answer(engines: tuple[Engine, Engine]):
    solo, batched = engines
    for q in QUESTIONS:
        alone = asyncio.run(answer(solo, q, 40))
        in_batch = asyncio.run(answer(batched, q, 40))
        assert alone == in_batch and alone[1] > 5
    assert solo.joined == 0 and batched.joined == 0


def test_a_second_request_moves_the_lone_one_into_the_batch_without_changing_answers(engines: tuple[Engine, Engine]):
    solo, batched = engines
    expected = [asyncio.run(answer(batched, q, 60)) for q in QUESTIONS]

    async def both():
        started = asyncio.Event()
        first = asyncio.create_task(answer(solo, QUESTIONS[1], 60, started))
        await started.wait()  # the first is decoding alone, a few tokens in
        assert solo.in_flight == 1
        second = await answer(solo, QUESTIONS[0], 60)
        return [second, await first]

    before = solo.joined
    assert asyncio.run(both()) == expected
    assert solo.joined == before + 1
    assert solo.in_flight == 0


def test_a_lone_request_whose_client_leaves_frees_everything(engines: tuple[Engine, Engine]):
    solo, batched = engines

    async def leave_early() -> None:
        pieces = solo.stream(prompt(solo, QUESTIONS[1]), 200)
        async for piece in pieces:
            if piece.tokens >= 3:
                break
        await pieces.aclose()

    before = solo.cancelled
    asyncio.run(leave_early())
    assert solo.cancelled == before + 1 and solo.in_flight == 0
    joined = solo.joined
    assert asyncio.run(answer(solo, QUESTIONS[0], 30)) == asyncio.run(answer(batched, QUESTIONS[0], 30))
    assert solo.joined == joined  # the next request decoded alone again


def test_a_prompt_sharing_a_kept_prefix_computes_only_the_rest(engines: tuple[Engine, Engine]):
    solo, batched = engines
    uncached = Engine(solo.tokenizer, solo.model, ServeConfig(prefix_cache=0))
    system = {"role": "system", "content": "You are a patient tutor for school science."}
    first = solo.prompt_ids([system, {"role": "user", "content": "What is osmosis?"}])
    second = solo.prompt_ids([system, {"role": "user", "content": "What is an acid?"}])
    shared = next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)

    async def run(engine: Engine, ids: list[int]) -> str:
        return "".join([piece.text async for piece in engine.stream(ids, 24)])

    asyncio.run(run(solo, first))
    before = solo.reused_tokens
    answer = asyncio.run(run(solo, second))
    starts = solo.message_starts(second)  # where the question's message begins (the assistant's opening goes with it)
    assert len(starts) == 1 and starts[0] < shared
    assert solo.reused_tokens - before == starts[0] > 10  # the whole system message, not the shared "<|im_start|>user"
    assert answer == asyncio.run(run(uncached, second)) == asyncio.run(run(batched, second))
    before = solo.reused_tokens
    assert asyncio.run(run(solo, second)) == answer  # the same prompt again: kept up to its last message, same answer
    assert solo.reused_tokens - before == starts[-1]  # every message but the last
    assert uncached.reused_tokens == 0
    uncached.close()
