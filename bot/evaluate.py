"""`praktikbot eval FILE.jsonl`: retrieval and answer quality plus latency on a question set.

Each line: {"id", "question", "expect_passage"?, "must_contain_any"?, "abstain"?}. A hit at k means a
citation among the first k whose quote or passage contains `expect_passage` (whitespace, line-end
hyphenation and case folded). Questions that should be answered count for hit@k, MRR and
must-contain; questions marked `abstain` count for abstention accuracy, as do answered ones."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from bot.answer import AnswerService
from ingest.clean import fold


class EvalFileError(ValueError):
    """The question file is missing or not JSON lines of the expected shape."""


def load_questions(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalFileError(f"kan ikke læse {path}: {exc.strerror or exc}") from exc
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}:{number}: ikke gyldig JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise EvalFileError(f"{path}:{number}: hver linje skal have et 'question' (each line needs one)")
        questions.append(item)
    return questions


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def evaluate(service: AnswerService, questions: list[dict]) -> dict:
    rows = []
    for item in questions:
        answer = service.ask(item["question"])
        should_abstain = bool(item.get("abstain"))
        row = {"id": item.get("id"), "question": item["question"], "abstained": answer.abstained,
               "abstain_ok": answer.abstained == should_abstain, "ms": answer.timings_ms["total"],
               "rank": None, "contains": None}
        if not should_abstain and item.get("expect_passage"):
            wanted = fold(item["expect_passage"])
            for position, c in enumerate(answer.citations, start=1):
                if wanted in fold(c.quote) or wanted in fold(c.passage):
                    row["rank"] = position
                    break
        if not should_abstain and item.get("must_contain_any"):
            text = fold(answer.answer)
            row["contains"] = any(fold(w) in text for w in item["must_contain_any"])
        rows.append(row)
    expected = [r for r, q in zip(rows, questions, strict=True) if not q.get("abstain") and q.get("expect_passage")]
    contains = [r for r in rows if r["contains"] is not None]
    latencies = [r["ms"] for r in rows]

    def hit_at(k: int) -> float:
        return sum(1 for r in expected if r["rank"] is not None and r["rank"] <= k) / max(1, len(expected))

    return {
        "questions": len(rows),
        "hit@1": round(hit_at(1), 4), "hit@3": round(hit_at(3), 4), "hit@5": round(hit_at(5), 4),
        "mrr": round(sum(1 / r["rank"] for r in expected if r["rank"]) / max(1, len(expected)), 4),
        "must_contain": round(sum(r["contains"] for r in contains) / max(1, len(contains)), 4),
        "abstention_accuracy": round(sum(r["abstain_ok"] for r in rows) / max(1, len(rows)), 4),
        "latency_ms": {"p50": round(statistics.median(latencies), 2) if latencies else 0.0,
                       "p95": round(_percentile(latencies, 0.95), 2)},
        "rows": rows,
    }

