"""Generations kept in Chroma: what a replica answers from during a switch, and what stays for how long."""

from __future__ import annotations

import threading

from bot.runtime import Runtime
from bot.settings import Settings
from ingest.generations import load_snapshot
from ingest.reader import IndexReader
from ingest.snapshot import Snapshot
from ingest.sync import sync
from tests.conftest import SEED_LETTER

KLV_QUESTION = "Hvorfor validerer forvaltningen ikke KLV-listerne?"
OLD, NEW = "Forvaltningen har besluttet", "Forvaltningen har efter en ny vurdering besluttet"


def _edit_letter(settings: Settings) -> None:
    letter = settings.knowledge_dir / SEED_LETTER
    text = letter.read_text(encoding="utf-8")
    assert OLD in text
    letter.write_text(text.replace(OLD, NEW), encoding="utf-8")


def _check(answer_json: dict, generations: dict[int, Snapshot]) -> None:
    """Every citation is a chunk of the answer's generation, quoted (line breaks aside) from that generation's text."""
    snapshot = generations[answer_json["generation"]]
    for citation in answer_json["citations"]:
        chunk = snapshot.chunks[citation["chunk_id"]]
        text = snapshot.texts[chunk.doc_id]
        assert text[citation["quote_start"]:citation["quote_end"]].split() == citation["quote"].split()


def test_answers_asked_all_through_a_reingest_come_whole_from_one_generation(make_index):
    settings = make_index()
    runtime = Runtime(settings)
    before = load_snapshot(settings)
    answers: list[dict] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask_continuously() -> None:
        while not stop.is_set():
            try:
                answers.append(runtime.ask(KLV_QUESTION)[0].model_dump())
            except BaseException as exc:  # reported by the test, never lost in the thread
                errors.append(exc)
                return

    asker = threading.Thread(target=ask_continuously)
    asker.start()
    try:
        while not answers and asker.is_alive():  # the old generation has answered before the re-ingest
            threading.Event().wait(0.05)
        _edit_letter(settings)
        report = sync(settings)
        after = load_snapshot(settings)
        runtime.ask(KLV_QUESTION)  # the asker has seen the new generation at least once after this
        seen_new = len(answers)
        while len(answers) <= seen_new + 1 and asker.is_alive():
            threading.Event().wait(0.05)
    finally:
        stop.set()
        asker.join()
    assert not errors, errors
    assert report.updated == [SEED_LETTER]
    generations = {before.generation: before, after.generation: after}
    assert {a["generation"] for a in answers} == set(generations), "answers from the old and then the new one"
    for answer in answers:
        assert not answer["abstained"], "no question is lost while the index switches"
        _check(answer, generations)
    served = [a["generation"] for a in answers]
    assert served == sorted(served), "once the new generation serves, the old one never comes back"
    new_letter = [a for a in answers if a["generation"] == after.generation and any(
        c["source"] == SEED_LETTER and c["chunk_id"] not in before.chunks for c in a["citations"])]
    assert new_letter, "the new generation quotes the edited letter"


def test_a_replica_still_on_the_old_generation_finds_its_passages_until_the_grace_period_ends(make_index):
    settings = make_index()
    lagging = IndexReader(settings)
    old = lagging.snapshot
    vector = lagging.embed_query(KLV_QUESTION)
    letter_chunks = {c.chunk_id for c in old.chunks.values() if c.source == SEED_LETTER}
    assert letter_chunks & {c.chunk_id for c, _ in lagging.dense(old, vector, 5)}

    _edit_letter(settings)
    sync(settings)  # the default grace period: the old letter's chunks stay for readers still on `old`
    assert letter_chunks & {c.chunk_id for c, _ in lagging.dense(old, vector, 5)}
    # a generation too big to hold its vectors is searched in Chroma: they are still there too
    assert letter_chunks & {cid for cid, _ in lagging.store_for(old).query(vector, 5)}
    assert lagging.snapshot.generation > old.generation, "the reader itself moves on to the new generation"

    sync(settings.model_copy(update={"generation_grace_seconds": 0}))  # the next ingest after the grace period
    assert not letter_chunks & lagging.store_for(old).all_ids(), "then the old chunks are removed"


def test_a_small_generation_is_searched_in_memory_exactly_as_chroma_would(make_index):
    """Also after a re-ingest, whose generation takes the unchanged chunks' vectors from the one before."""
    settings = make_index()
    reader = IndexReader(settings)
    old = reader.snapshot
    _edit_letter(settings)
    sync(settings)
    snapshot = reader.snapshot  # the new generation, built on the old one
    assert snapshot.generation > old.generation
    assert snapshot.chunk_vectors is not None and len(snapshot.chunk_vectors) == len(snapshot.chunks)
    for question in (KLV_QUESTION, "Who signs for the employees?", "Hvor mange må være i praktik?"):
        vector = reader.embed_query(question)
        in_memory = reader.dense(snapshot, vector, 10)
        # Chroma also holds the edited letter's old chunks (their grace period): not this generation's
        in_chroma = [(cid, score) for cid, score in reader.store_for(snapshot).query(vector, 30)
                     if cid in snapshot.chunks][:10]
        assert [c.chunk_id for c, _ in in_memory] == [cid for cid, _ in in_chroma]
        assert all(abs(score - other) < 1e-4 for (_, score), (_, other) in zip(in_memory, in_chroma, strict=True))
