"""Benchmark: `tutorforge serve` (continuous batching over HTTP, streamed; a lone request decodes outside the batch)
against `transformers serve` on the same model (its default: no continuous batching, over HTTP, streamed, the same
openai client) and a plain in-process `model.generate` loop that answers one request at a time; same model, prompts
and token budget, same run.

    .venv/bin/python -m benchmarks.serve                           # artifacts/sft/merged + artifacts/index if built,
                                                                   #   else SmolLM2-135M-Instruct + --index
    .venv/bin/python -m benchmarks.serve --model artifacts/sft/merged --index artifacts/index --requests 16 --load 200

Every wave runs `--rounds` times, the sides interleaved (both servers are up, each idle while another is measured),
and the medians are shown with each round's ratio. Prints, at concurrency 1 and 8: generated tokens/s over the wave
and time to first token (p50/p95; the baseline's requests wait in line, so its TTFT includes the queue), and the
ratios serve/baseline. The ratios compare the engines (requests with tool_choice "none", as the baseline has no tool
step); "serve+tool step" rows show the whole tutor path (serve.tutor_tools: a short tool-choosing reply first). Then
`--load` requests at concurrency 16 through the openai client: errors (must be 0), p50/p95 latency. Every request
generates exactly `--max-tokens` tokens unless the model ends its turn; every side counts the text tokens it
generated, the end-of-turn token not included (the "tokens" column: equal on every side when the answers are the
same).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "benchmark-" + os.urandom(8).hex()
QUESTIONS = [
    "What is osmosis?", "Why do plant cells have a cell wall?", "What is an acid?", "How is a salt formed?",
    "What is kinetic energy?", "How do you calculate speed?", "What is a prime number?", "How do you add fractions?",
]  # fmt: skip


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def serve_wave(
    url: str,
    questions: list[str],
    concurrency: int,
    max_tokens: int,
    extra: dict[str, Any],
    model: str = "",
    system: str = "",
    counts_end_token: bool = False,
) -> dict[str, float]:
    """One wave through an OpenAI-compatible server: `extra` request fields, `system` sent as a system message.
    `counts_end_token`: the server's completion_tokens include the end-of-turn token of a reply that stopped
    (`transformers serve` does; tutorforge serve and the generate loop count text tokens only): it is taken off, so
    every side counts the same tokens."""
    import openai

    client = openai.OpenAI(base_url=url + "/v1", api_key=TOKEN, max_retries=0, timeout=600)

    def one(q: str) -> tuple[float, int]:
        t0, first, used, finish = time.perf_counter(), None, 0, None
        messages: list[Any] = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": q})
        stream = client.chat.completions.create(
            messages=messages, model=model, max_tokens=max_tokens, stream=True,
            stream_options={"include_usage": True}, **extra,
        )  # fmt: skip
        for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - t0
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
            if chunk.usage:
                used = chunk.usage.completion_tokens
        return first or time.perf_counter() - t0, used - (counts_end_token and finish == "stop")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        out = list(pool.map(one, questions))
    wall = time.perf_counter() - t0
    ttft = [f for f, _ in out]
    return {
        "tokens": sum(n for _, n in out),
        "tokens_per_s": sum(n for _, n in out) / wall,
        "ttft_p50": statistics.median(ttft),
        "ttft_p95": pct(ttft, 0.95),
    }


def baseline_wave(model, tok, system: str, questions: list[str], concurrency: int, max_tokens: int) -> dict[str, float]:
    """One request at a time with model.generate; requests of a wave of `concurrency` arrive together and queue."""
    import torch
    from transformers import TextIteratorStreamer

    from tutorforge.eval.lmscore import stop_token_ids

    stops = stop_token_ids(tok, model)
    ttft, tokens, t_all = [], 0, time.perf_counter()
    for start in range(0, len(questions), concurrency):
        wave_t0 = time.perf_counter()
        for q in questions[start : start + concurrency]:
            msgs = [{"role": "system", "content": system}, {"role": "user", "content": q}]
            ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
            result = {}

            def gen(ids=ids, streamer=streamer, result=result) -> None:
                with torch.no_grad():
                    out = model.generate(**ids, max_new_tokens=max_tokens, do_sample=False, eos_token_id=stops,
                                         streamer=streamer)  # fmt: skip
                result["new"] = int(out.shape[1] - ids["input_ids"].shape[1])

            th = threading.Thread(target=gen)
            th.start()
            first = None
            for text in streamer:
                if first is None and text.strip():
                    first = time.perf_counter() - wave_t0  # includes the wait behind earlier requests of the wave
            th.join()
            ttft.append(first or time.perf_counter() - wave_t0)
            tokens += result["new"] - (1 if result["new"] and result["new"] < max_tokens else 0)  # end-of-turn
    wall = time.perf_counter() - t_all
    return {
        "tokens": tokens,
        "tokens_per_s": tokens / wall,
        "ttft_p50": statistics.median(ttft),
        "ttft_p95": pct(ttft, 0.95),
    }


@contextlib.contextmanager
def transformers_serve(workdir: Path, model_dir: Path) -> Iterator[str]:
    """`transformers serve <model_dir>` (its defaults: no continuous batching) on a free port; yields its URL."""
    from tests.support.servers import VENV_BIN, _spawn, _wait_http, free_port

    port = free_port()
    cmd = [str(VENV_BIN / "transformers"), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port)]
    server = _spawn("transformers-serve", cmd, {"HF_HUB_OFFLINE": "1"}, workdir, f"http://127.0.0.1:{port}")
    try:
        _wait_http(server, "/health", 300)
        yield server.url
    finally:
        server.stop()


def load_test(url: str, requests: int) -> tuple[float, list[str], list[float]]:
    """`requests` non-streamed requests at concurrency 16 (the tutor path): wall seconds, errors, latencies."""
    import openai

    client = openai.OpenAI(base_url=url + "/v1", api_key=TOKEN, max_retries=0, timeout=900)
    errors, lat = [], []

    def one(i: int) -> None:
        t0 = time.perf_counter()
        try:
            client.chat.completions.create(
                messages=[{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}], model="", max_tokens=16
            )
            lat.append(time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001 - every failure is counted and shown
            errors.append(f"{type(e).__name__}: {e}")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(requests)))
    return time.perf_counter() - t0, errors, lat


def median_row(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="artifacts/sft/merged")
    ap.add_argument("--index", default="artifacts/index")
    ap.add_argument("--dataset", default="artifacts/dataset/sft", help="SFT splits (tool gate, quizzes), if present")
    ap.add_argument("--requests", type=int, default=16, help="requests per measured wave")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of every wave, interleaved; medians are shown")
    ap.add_argument("--load", type=int, default=200, help="requests of the load test at concurrency 16 (0 = skip)")
    args = ap.parse_args()

    import openai  # noqa: F401  (fail early: the client is part of what is measured)
    import torch

    from tests.support.servers import tutor_server
    from tutorforge.dataset.build import DatasetConfig
    from tutorforge.training.models import load_causal_lm, load_tokenizer, resolve_model

    model_dir = Path(args.model if Path(args.model, "config.json").is_file() else resolve_model("smollm2")).resolve()
    questions = (QUESTIONS * (args.requests // len(QUESTIONS) + 1))[: args.requests]
    system = DatasetConfig().system_prompt  # what tutorforge serve adds; sent explicitly to transformers serve
    runs: dict[tuple[str, int], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        (bundle / "sft").mkdir(parents=True)
        (bundle / "sft" / "merged").symlink_to(model_dir)
        (bundle / "index").symlink_to(Path(args.index).resolve())
        if Path(args.dataset).is_dir():  # the SFT splits: the tool gate's examples and make_quiz's questions
            (bundle / "dataset").mkdir()
            (bundle / "dataset" / "sft").symlink_to(Path(args.dataset).resolve())
        print(f"model {model_dir}, {len(questions)} requests x {args.rounds} rounds, max_tokens {args.max_tokens}, "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        torch.set_num_threads(os.cpu_count() or 1)
        tok = load_tokenizer(model_dir)
        model = load_causal_lm(model_dir, dtype=torch.float32).eval()
        # both servers up at once, idle while the other is measured; rounds interleave so drift hits every side alike
        with tutor_server(Path(tmp), "--model", str(bundle), token=TOKEN) as srv, \
                transformers_serve(Path(tmp), model_dir) as base_url:  # fmt: skip
            waves = {
                "serve": lambda c, n=args.max_tokens: serve_wave(srv.url, questions, c, n, {"tool_choice": "none"}),
                "serve+tool step": lambda c, n=args.max_tokens: serve_wave(srv.url, questions, c, n, {}),
                "transformers serve": lambda c, n=args.max_tokens: serve_wave(
                    base_url, questions, c, n, {}, str(model_dir), system, counts_end_token=True
                ),
                "generate loop": lambda c, n=args.max_tokens: baseline_wave(model, tok, system, questions, c, n),
            }
            for wave in waves.values():  # warm-up: a lone request and a batch (one-time costs of both paths)
                for c in (1, 2):
                    wave(c, 8)
            for r in range(args.rounds):
                for c in (1, 8):  # the engines compared like for like (tool_choice none), then the whole tutor path
                    for name, wave in waves.items():
                        runs.setdefault((name, c), []).append(wave(c))
                print(f"round {r + 1}/{args.rounds}: serve / transformers serve at concurrency 1 "
                      f"{runs[('serve', 1)][-1]['tokens_per_s'] / runs[('transformers serve', 1)][-1]['tokens_per_s']:.2f}x")  # fmt: skip
            if args.load:
                load_wall, errors, lat = load_test(srv.url, args.load)
    rows = {key: median_row(rs) for key, rs in runs.items()}
    print(f"medians of {args.rounds} rounds")
    print(f"{'':20}{'conc':>5}{'tokens':>8}{'tok/s':>9}{'TTFT p50':>10}{'TTFT p95':>10}")
    for (name, c), r in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(
            f"{name:20}{c:>5}{r['tokens']:>8.0f}{r['tokens_per_s']:>9.1f}{r['ttft_p50']:>9.2f}s{r['ttft_p95']:>9.2f}s"
        )
    for c in (1, 8):
        for base in ("transformers serve", "generate loop"):
            s, b = rows[("serve", c)], rows[(base, c)]
            each = [
                x["tokens_per_s"] / y["tokens_per_s"] for x, y in zip(runs[("serve", c)], runs[(base, c)], strict=True)
            ]
            print(f"concurrency {c}: serve / {base} tokens/s {s['tokens_per_s'] / b['tokens_per_s']:.2f}x "
                  f"(rounds {', '.join(f'{x:.2f}' for x in each)}), TTFT p50 {b['ttft_p50'] / s['ttft_p50']:.2f}x faster")  # fmt: skip
    if args.load:
        print(f"load: {args.load} requests at concurrency 16 in {load_wall:.0f} s, {len(errors)} errors, "
              f"latency p50 {statistics.median(lat):.2f} s p95 {pct(lat, 0.95):.2f} s" if lat else "load: all failed")  # fmt: skip
        for e in errors[:5]:
            print("  error:", e)


if __name__ == "__main__":
    main()
