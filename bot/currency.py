"""Which documents an updated version supersedes: same type, nearly the same title, an older
valid-from date. Their passages yield to the newer version's, so a journalist gets the rule in force."""

from __future__ import annotations

from ingest.snapshot import Snapshot, per_generation
from ingest.terms import terms

TITLE_OVERLAP = 0.6  # share of title words two versions of one document have in common


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, len(a | b))


@per_generation
def superseded(snapshot: Snapshot) -> frozenset[str]:
    """Doc ids with a newer document of the same type and title (computed once per generation)."""
    docs = [d for d in snapshot.documents.values() if d.valid_from]
    titles = {d.doc_id: set(terms(d.title)) for d in docs}
    return frozenset(
        old.doc_id for old in docs for new in docs
        if new.doc_id != old.doc_id and new.doc_type == old.doc_type and new.valid_from > old.valid_from
        and _overlap(titles[old.doc_id], titles[new.doc_id]) >= TITLE_OVERLAP
    )
