"""`praktikbot eval [FILE.jsonl | DIR]`: answer quality and latency on a question set, per split.

Each line: {"id", "question", "chunks"?: ["<source>#<section>", …], "expect_passage"?,
"must_contain_any"?, "abstain"?, "kind"?, "near"?}. An answer is right when a citation among the first
3 is from a labelled chunk (or, for sets labelled with `expect_passage`, quotes or holds that text).

The split is fixed by document section, never by question: a question's key is its first labelled
chunk (an unanswerable one's `near` section, else its id), and the key's CRC-32 decides — remainder
mod 10 below 7 is tune, the rest held-out. So a held-out section's questions never reach the fit."""

from __future__ import annotations

import json
import statistics
import zlib
from pathlib import Path

from bot.answer import AnswerService
from bot.models import Answer
from ingest.clean import fold

RIGHT_WITHIN = 3  # an expected chunk among this many first citations makes an answer right
SPLITS = ("tune", "heldout")


class EvalFileError(ValueError):
    """The question file is missing or not JSON lines of the expected shape."""


def load_questions(path: Path) -> list[dict]:
    """A JSONL file, or every *.jsonl file of a folder (the question bank)."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if path.is_dir() and not files:
        raise EvalFileError(f"{path} har ingen .jsonl-filer (the folder has no .jsonl files)")
    questions = []
    for file in files:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise EvalFileError(f"kan ikke læse {file}: {exc.strerror or exc}") from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalFileError(f"{file}:{number}: ikke gyldig JSON ({exc.msg})") from exc
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                raise EvalFileError(f"{file}:{number}: hver linje skal have et 'question' (each line needs one)")
            questions.append(item)
    return questions


def split_key(item: dict) -> str:
    return (item.get("chunks") or [None])[0] or item.get("near") or str(item.get("id") or item["question"])


def split_of(item: dict) -> str:
    return "tune" if zlib.crc32(split_key(item).encode("utf-8")) % 10 < 7 else "heldout"


def chunk_key(source: str, section: str) -> str:
    """How the bank names a chunk: stable across re-ingests, unlike chunk ids."""
    return f"{source}#{section}"


def expected_chunks(item: dict) -> set[str]:
    return set(item.get("chunks") or [])


def _rank(answer: Answer, item: dict) -> int | None:
    """The place of the first citation from an expected chunk (or holding the expected passage)."""
    wanted_chunks = expected_chunks(item)
    wanted_text = fold(item["expect_passage"]) if item.get("expect_passage") else None
    for position, c in enumerate(answer.citations, start=1):
        if chunk_key(c.source, c.section) in wanted_chunks:
            return position
        if wanted_text and (wanted_text in fold(c.quote) or wanted_text in fold(c.passage)):
            return position
    return None


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _share(count: float, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def _figures(rows: list[dict]) -> dict:
    answerable = [r for r in rows if not r["should_abstain"] and r["labelled"]]
    unanswerable = [r for r in rows if r["should_abstain"]]
    borrowed = [r for r in unanswerable if r["kind"] == "borrowed"]
    contains = [r for r in rows if r["contains"] is not None]

    def hit_at(k: int) -> float:
        return _share(sum(1 for r in answerable if r["rank"] is not None and r["rank"] <= k), len(answerable))

    right = sum(1 for r in answerable if not r["abstained"] and r["rank"] is not None and r["rank"] <= RIGHT_WITHIN)
    declined = sum(1 for r in answerable if r["abstained"])
    return {
        "questions": len(rows), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "answered_right": _share(right, len(answerable)),
        "answered_wrong": _share(len(answerable) - right - declined, len(answerable)),
        "answerable_declined": _share(declined, len(answerable)),
        "unanswerable_declined": _share(sum(r["abstained"] for r in unanswerable), len(unanswerable)),
        "borrowed_declined": _share(sum(r["abstained"] for r in borrowed), len(borrowed)),
        "hit@1": hit_at(1), "hit@3": hit_at(3), "hit@5": hit_at(5),
        "mrr": round(sum(1 / r["rank"] for r in answerable if r["rank"]) / max(1, len(answerable)), 4),
        "must_contain": _share(sum(r["contains"] for r in contains), len(contains)),
        "abstention_accuracy": _share(sum(r["abstain_ok"] for r in rows), len(rows)),
    }


def evaluate(service: AnswerService, questions: list[dict], progress=lambda done, total: None) -> dict:
    rows = []
    for index, item in enumerate(questions):
        progress(index, len(questions))
        answer = service.ask(item["question"])
        should_abstain = bool(item.get("abstain"))
        row = {"id": item.get("id"), "question": item["question"], "split": split_of(item),
               "kind": item.get("kind"), "should_abstain": should_abstain,
               "labelled": bool(item.get("chunks") or item.get("expect_passage")),
               "abstained": answer.abstained, "abstain_ok": answer.abstained == should_abstain,
               "confidence": answer.confidence, "ms": answer.timings_ms["total"],
               "rank": None if should_abstain else _rank(answer, item), "contains": None,
               "cited": [chunk_key(c.source, c.section) for c in answer.citations]}
        if not should_abstain and item.get("must_contain_any"):
            text = fold(answer.answer)
            row["contains"] = any(fold(w) in text for w in item["must_contain_any"])
        rows.append(row)
    progress(len(questions), len(questions))
    latencies = [r["ms"] for r in rows]
    return {
        **_figures(rows),
        "splits": {name: _figures([r for r in rows if r["split"] == name]) for name in SPLITS},
        "latency_ms": {"p50": round(statistics.median(latencies), 2) if latencies else 0.0,
                       "p95": round(_percentile(latencies, 0.95), 2)},
        "rows": rows,
    }
