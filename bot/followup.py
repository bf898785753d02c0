"""What the admins follow up on ("Opfølgning"): open escalations, the gaps in the knowledge (declined
questions grouped by meaning, with counts), answers users doubted (👎) with their comments, and the
figures: escalations, time to a person's answer, share of declined questions."""

from __future__ import annotations

import statistics

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from bot.records import Records
from ingest.embeddings import VectorEmbeddings

# Declined questions closer than this (cosine distance of their embeddings, average linkage) are one gap:
# paraphrases of one question (Danish or English) were within 0.11 with multilingual-e5, different questions
# about one place (the canteen, parking) beyond 0.16.
GAP_DISTANCE = 0.15
EXAMPLES = 5


def gaps(declined: list[dict], embeddings: VectorEmbeddings) -> list[dict]:
    """Declined questions grouped by meaning, the largest group first; each with its count, a few
    example questions and every audit id."""
    if not declined:
        return []
    if len(declined) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        vectors = np.stack([embeddings.embed_query_array(row["question"]) for row in declined])
        labels = AgglomerativeClustering(n_clusters=None, distance_threshold=GAP_DISTANCE, metric="cosine",
                                         linkage="average").fit_predict(vectors)
    groups: dict[int, list[dict]] = {}
    for label, row in zip(labels, declined, strict=True):
        groups.setdefault(int(label), []).append(row)
    found = [{"count": len(rows), "questions": list(dict.fromkeys(r["question"] for r in rows))[:EXAMPLES],
              "audit_ids": [r["id"] for r in rows], "latest": max(r["ts"] for r in rows)}
             for rows in groups.values()]
    return sorted(found, key=lambda g: (-g["count"], -g["latest"]))


def metrics(records: Records) -> dict:
    escalations = records.escalations(limit=10_000)
    waits = [(e["answered_at"] - e["ts"]) / 60 for e in escalations if e["answered_at"]]
    answers, declined = records.answer_counts()
    share = round(declined / answers, 4) if answers else 0.0
    return {"answers": answers, "declined": declined, "declined_share": share,
            "escalations": len(escalations), "open": sum(e["state"] == "open" for e in escalations),
            "answered": len(waits), "median_minutes_to_answer": round(statistics.median(waits), 1) if waits else None}


def followup(records: Records, embeddings: VectorEmbeddings) -> dict:
    escalations = records.escalations()
    return {
        "escalations": sorted(escalations, key=lambda e: (e["state"] != "open", -e["ts"])),
        "gaps": gaps(records.declined(), embeddings),
        "doubted": records.doubted(),
        "metrics": metrics(records),
    }
