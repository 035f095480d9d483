"""`bimo serve` under load: 32 concurrent streaming clients against the tiny model.

Prints figures; not a test. Loopback only, bounded in clients, requests and time.
Phase 1 starts a real `bimo serve --model local:tiny` process and hits it with N
concurrent streaming clients (OpenAI wire format over SSE); phase 2 stops it and
calls the same backend in-process from N threads. Every request asks for exactly
`--tokens` tokens (`ignore_eos`, passed through to llama.cpp) with sampling on and
no seed, so nothing is served from the cache and both phases do the same work.
Targets: 0 errors; server throughput >= 0.9x the direct backend.

    .venv/bin/python benchmarks/serve.py [--clients 32] [--requests 2] [--tokens 48]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def warm_up(call) -> None:
    """A few concurrent requests first: the first ones pay for paging the model in."""
    threads = [threading.Thread(target=call, args=(-1 - i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def request_body(i: int, tokens: int, stream: bool) -> dict:
    return {"messages": [{"role": "user", "content": f"Write a short note, number {i}, about rivers and towns."}],
            "max_tokens": tokens, "temperature": 0.8, "ignore_eos": True, "stream": stream}


async def load(base: str, clients: int, requests: int, tokens: int, deadline: float) -> dict:
    ttft: list[float] = []
    errors: list[str] = []
    done = 0
    toks = 0

    async def client(c: int, http: httpx.AsyncClient) -> None:
        nonlocal done, toks
        for r in range(requests):
            if time.monotonic() > deadline:
                errors.append("time budget exhausted")
                return
            body = {**request_body(c * requests + r, tokens, True), "stream_options": {"include_usage": True}}
            t0 = time.perf_counter()
            first = None
            try:
                async with http.stream("POST", f"{base}/v1/chat/completions", json=body) as resp:
                    if resp.status_code != 200:
                        errors.append(f"HTTP {resp.status_code}")
                        continue
                    ended = False
                    async for line in resp.aiter_lines():
                        if not line.startswith("data:"):
                            continue
                        data = line[5:].strip()
                        if data == "[DONE]":
                            ended = True
                            break
                        chunk = json.loads(data)
                        if "error" in chunk:
                            errors.append(chunk["error"]["message"][:80])
                        for ch in chunk.get("choices") or []:
                            if first is None and (ch.get("delta") or {}).get("content"):
                                first = time.perf_counter() - t0
                        if chunk.get("usage"):
                            toks += chunk["usage"]["completion_tokens"]
                    if not ended:
                        errors.append("stream ended without [DONE]")
                        continue
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
                continue
            if first is not None:
                ttft.append(first)
            done += 1

    t0 = time.perf_counter()
    async with httpx.AsyncClient(timeout=httpx.Timeout(300, connect=10),
                                 limits=httpx.Limits(max_connections=clients + 4)) as http:
        await asyncio.gather(*(client(c, http) for c in range(clients)))
    wall = time.perf_counter() - t0
    return {"wall": wall, "done": done, "tokens": toks, "errors": errors, "ttft": ttft}


def direct(clients: int, requests: int, tokens: int, n_ctx: int, parallel: int) -> dict:
    from bimo.llm import get_backend

    backend = get_backend("local:tiny", n_ctx=n_ctx, parallel=parallel)
    backend.cache = None
    ttft: list[float] = []
    errors: list[str] = []
    counts = {"done": 0, "tokens": 0}
    lock = threading.Lock()

    def worker(c: int) -> None:
        for r in range(requests):
            req = request_body(c * requests + r, tokens, False)
            req.pop("stream")
            t0 = time.perf_counter()
            first = None
            try:
                stream = backend.stream_request(req, cache=False)
                for _ in stream:
                    if first is None:
                        first = time.perf_counter() - t0
                comp = stream.completion
            except Exception as exc:
                with lock:
                    errors.append(str(exc)[:80])
                continue
            with lock:
                counts["done"] += 1
                counts["tokens"] += comp.completion_tokens
                if first is not None:
                    ttft.append(first)

    warm_up(lambda i: backend.complete_request(request_body(i, 16, False), cache=False))
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    backend.close()
    return {"wall": wall, **counts, "errors": errors, "ttft": ttft}


def row(name: str, r: dict) -> str:
    return (f"| {name:<16} | {r['done']:>4} | {len(r['errors']):>6} | {r['done'] / r['wall']:>7.2f} | "
            f"{r['tokens'] / r['wall']:>8.1f} | {1000 * pct(r['ttft'], 0.5):>8.0f} | "
            f"{1000 * pct(r['ttft'], 0.95):>8.0f} | {r['wall']:>6.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=2, help="requests per client")
    ap.add_argument("--tokens", type=int, default=48, help="tokens generated per request")
    ap.add_argument("--parallel", type=int, default=4, help="backend slots")
    ap.add_argument("--budget", type=float, default=300, help="seconds allowed per phase")
    args = ap.parse_args()
    args.clients = min(args.clients, 64)  # bounded: this is a loopback benchmark, not a stress tool
    os.environ["BIMO_CACHE"] = os.path.join(tempfile.mkdtemp(), "cache.sqlite")
    n_ctx = 2048 * args.parallel
    env = {**os.environ, "BIMO_N_CTX": str(n_ctx)}
    env.pop("BIMO_API_KEY", None)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"bimo serve benchmark: local:tiny, {args.clients} clients x {args.requests} requests x "
          f"{args.tokens} tokens, {args.parallel} slots, threads={os.environ.get('BIMO_THREADS', 'all')}, "
          f"{os.cpu_count()} CPUs", flush=True)
    # The server's backend gets the same slots as the direct phase (get_backend's default is 4).
    proc = subprocess.Popen([sys.executable, "-m", "bimo.cli", "serve", "--model", "local:tiny", "--port", str(port),
                             "--data-dir", tempfile.mkdtemp()], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                sys.exit("server did not start")
            time.sleep(0.3)
        warm_up(lambda i: httpx.post(f"{base}/v1/chat/completions", json=request_body(i, 16, False), timeout=300))
        served = asyncio.run(load(base, args.clients, args.requests, args.tokens, time.monotonic() + args.budget))
        print(row("bimo serve (SSE)", served), flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
    backend = direct(args.clients, args.requests, args.tokens, n_ctx, args.parallel)
    print(row("backend direct", backend), flush=True)

    print("| path             | reqs | errors |  req/s  |  tok/s   | TTFT p50 | TTFT p95 | wall s |")
    print("|------------------|------|--------|---------|----------|----------|----------|--------|")
    print(row("bimo serve (SSE)", served))
    print(row("backend direct", backend))
    ratio = (served["tokens"] / served["wall"]) / max(1e-9, backend["tokens"] / backend["wall"])
    print(f"server / direct throughput: {ratio:.2f}x (target >= 0.90x); errors: {len(served['errors'])} "
          f"(target 0){'; ' + ', '.join(sorted(set(served['errors'])))[:200] if served['errors'] else ''}")
    print(json.dumps({"benchmark": "serve", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "load_1min": round(os.getloadavg()[0], 1), "clients": args.clients, "requests": args.requests,
                      "tokens": args.tokens, "parallel": args.parallel, "server_over_direct": round(ratio, 3),
                      "served_tokens_per_s": round(served["tokens"] / served["wall"], 2),
                      "direct_tokens_per_s": round(backend["tokens"] / backend["wall"], 2),
                      "errors": len(served["errors"])}))


if __name__ == "__main__":
    main()
