"""Benchmark: how long a replica takes to serve a newly published generation (target ≤ 5 s).

Server mode as deployed: a real `chroma run`, and a `praktikbot serve` replica in its own process with an
empty data dir and no knowledge dir. This process plays the worker: it ingests, edits one document and
ingests again, polling the replica's /healthz all the while (every 50 ms) until it reports the new
generation (the replica polls Chroma every PRAKTIKBOT_INDEX_REFRESH_SECONDS, then loads what changed and
rebuilds its BM25 in the background). The pickup time runs from the generation record's time stamp to the
first /healthz that reports it: the ingest goes on after publishing (pruning the vector cache), and the
replica may pick the generation up before the ingest returns.
Measured on the demo corpus (real embeddings) and on a seeded synthetic corpus of 10k chunks (seeded
random unit vectors for the passages: loading and BM25 don't depend on what the vectors mean).
Writes bench/results/pickup.json; bench/scale.py puts it in bench/RESULTS.md."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import write_corpus  # noqa: E402
from bench.support import free_port, percentile  # noqa: E402
from bench.vectors import RandomUnitEmbeddings  # noqa: E402
from ingest.embeddings import load_embeddings  # noqa: E402
from ingest.generations import Generations  # noqa: E402
from ingest.settings import IndexSettings  # noqa: E402
from ingest.sync import sync  # noqa: E402

FIGURES = ROOT / "bench" / "results" / "pickup.json"
ROUNDS = {"demo": 5, "synthetic": 3}
SYNTHETIC_CHUNKS = 10_000
START_SECONDS = 600
TARGET_SECONDS = 5.0


def _wait(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench/pickup.py: {what} timed out")
        time.sleep(0.05)


def _answers(url: str) -> int | None:
    """The generation the replica serves, or None while it can't answer."""
    try:
        response = httpx.get(f"{url}/healthz", timeout=5)
    except httpx.HTTPError:
        return None
    return response.json().get("generation") if response.status_code == 200 else None


class Watcher:
    """Polls the replica's /healthz every 50 ms in a thread, noting when each generation was first served."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self.stop.wait(0.05):
            if (generation := _answers(self.url)) is not None:
                self.seen.setdefault(generation, time.time())

    def first_seen(self, generation: int) -> float:
        _wait(lambda: generation in self.seen, START_SECONDS, "the pickup")
        return self.seen[generation]

    def __enter__(self) -> Watcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def published_at(settings: IndexSettings) -> float:
    """When the generation in service was published, by its record's time stamp."""
    stamp = Generations(settings).published_at()
    assert stamp is not None
    return stamp


def start_chroma(path: Path, stack: ExitStack) -> str:
    """A `chroma run` on a free port, stopped with `stack`; returns its URL once it answers."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    port = free_port()
    server = subprocess.Popen([chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(server.wait, 30)
    stack.callback(server.terminate)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    _wait(up, START_SECONDS, "chroma run")
    return url


def measure(name: str, knowledge: Path, work: Path, random_vectors: bool) -> dict:
    with ExitStack() as stack:
        settings = IndexSettings(knowledge_dir=knowledge, data_dir=work / "worker",
                                 chroma_url=start_chroma(work / "chroma", stack))
        if random_vectors:
            real = load_embeddings(settings.embeddings)
            fake = RandomUnitEmbeddings(real.name, real.dimension)
            stack.enter_context(mock.patch("ingest.sync.load_embeddings", lambda spec: fake))
        first = sync(settings)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRAKTIKBOT_")}
        env.update(PRAKTIKBOT_CHROMA_URL=settings.chroma_url, PRAKTIKBOT_DATA_DIR=str(work / "replica"),
                   PRAKTIKBOT_KNOWLEDGE_DIR=str(work / "no-knowledge"))
        replica = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(replica.wait, 30)
        stack.callback(replica.terminate)
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: _answers(url) == first.generation, START_SECONDS, "the replica's start")
        target = sorted(knowledge.rglob("*.md"))[-1]
        seconds = []
        for round_ in range(ROUNDS[name]):
            target.write_text(target.read_text(encoding="utf-8") + f"\n\nTilføjet i runde {round_}.\n",
                              encoding="utf-8")
            with Watcher(url) as watcher:  # the replica may pick it up before the ingest has returned
                generation = sync(settings).generation
                seen = watcher.first_seen(generation)
            seconds.append(seen - published_at(settings))
        return {"corpus": name, "chunks": first.chunks, "random_vectors": random_vectors,
                "seconds": [round(s, 2) for s in seconds], "p50": percentile(seconds, 0.5),
                "max": round(max(seconds), 2), "target": TARGET_SECONDS, "met": max(seconds) <= TARGET_SECONDS}


def main() -> None:
    results = []
    with tempfile.TemporaryDirectory(prefix="praktikbot-pickup-") as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "knowledge", work / "demo" / "knowledge")
        results.append(measure("demo", work / "demo" / "knowledge", work / "demo", random_vectors=False))
        print(json.dumps(results[-1]), flush=True)
        write_corpus(work / "synthetic" / "knowledge", SYNTHETIC_CHUNKS, seed=1)
        results.append(measure("synthetic", work / "synthetic" / "knowledge", work / "synthetic",
                               random_vectors=True))
        print(json.dumps(results[-1]), flush=True)
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps({"refresh_seconds": IndexSettings().index_refresh_seconds, "results": results},
                                  indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
