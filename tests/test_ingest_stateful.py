"""Ingest as a state machine, the way Chroma tests its own collections: random sequences of add, edit,
delete, rename, corrupt-a-file and kill-an-ingest-midway on a tiny knowledge dir of its own. After every
ingest the published index holds exactly the current documents' chunks, each once, and a corrupted
file's last good version is still served."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ingest.chunking import split_document
from ingest.documents import read_document
from ingest.generations import load_snapshot
from ingest.reader import IndexReader
from ingest.sync import sync
from tests.conftest import make_settings

NAMES = ["a.md", "b.md", "c.md", "noter/d.md"]
WORDS = ["praktik", "borger", "virksomhed", "tilsyn", "forløb", "uge", "regel", "plan", "kontrol", "løn"]
# front matter that is no YAML mapping: the document fails, its last good version must stay in service
CORRUPT = "---\ntitle: [ikke lukket\n---\n\n# Ødelagt\n\nTekst.\n"

sentence = st.builds(lambda words, n: f"{' '.join(words).capitalize()} gælder i uge {n}.",
                     st.lists(st.sampled_from(WORDS), min_size=2, max_size=6), st.integers(1, 52))
section = st.tuples(st.sampled_from(WORDS), st.lists(sentence, min_size=1, max_size=4))
document = st.builds(
    lambda title, sections: f"# {title.capitalize()}\n\n" + "".join(
        f"## {heading.capitalize()}\n\n{' '.join(body)}\n\n" for heading, body in sections),
    st.sampled_from(WORDS), st.lists(section, min_size=1, max_size=3))


class _Killed(Exception):
    """Stands in for the process dying part-way through an ingest."""


class IngestMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="praktikbot-stateful-"))
        # no replica answers from an old generation here: what a new one retires goes at once
        self.settings = make_settings(self.root, generation_grace_seconds=0)
        self.settings.knowledge_dir.mkdir()
        self.files: dict[str, str] = {}  # what is on disk
        self.corrupt: set[str] = set()
        self.served: dict[str, str] = {}  # what the index should serve: the last good version of each file
        self.ingested = False

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _write(self, name: str, text: str) -> None:
        path = self.settings.knowledge_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.files[name] = text

    @rule(name=st.sampled_from(NAMES), text=document)
    def add_or_edit(self, name: str, text: str) -> None:
        self._write(name, text)
        self.corrupt.discard(name)

    @precondition(lambda self: self.files)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.files)))
        (self.settings.knowledge_dir / name).unlink()
        del self.files[name]
        self.corrupt.discard(name)

    @precondition(lambda self: self.files and len(self.files) < len(NAMES))
    @rule(data=st.data())
    def rename(self, data: st.DataObject) -> None:
        old = data.draw(st.sampled_from(sorted(self.files)))
        new = data.draw(st.sampled_from(sorted(set(NAMES) - set(self.files))))
        target = self.settings.knowledge_dir / new
        target.parent.mkdir(parents=True, exist_ok=True)
        (self.settings.knowledge_dir / old).rename(target)
        self.files[new] = self.files.pop(old)
        if old in self.corrupt:
            self.corrupt.discard(old)
            self.corrupt.add(new)

    @precondition(lambda self: self.files)
    @rule(data=st.data())
    def corrupt_a_file(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.files)))
        (self.settings.knowledge_dir / name).write_text(CORRUPT, encoding="utf-8")
        self.corrupt.add(name)

    @rule()
    def ingest(self) -> None:
        report = sync(self.settings)
        self._published()
        assert sorted(f["path"] for f in report.failed) == sorted(self.corrupt)
        assert IndexReader(self.settings).store.all_ids() == set(load_snapshot(self.settings).chunks), \
            "Chroma holds exactly the published chunks"

    @rule(after=st.integers(0, len(NAMES)))
    def kill_an_ingest_midway(self, after: int) -> None:
        def die(done: int, total: int, current: str) -> None:
            if done == after:
                raise _Killed

        try:
            sync(self.settings, progress=die)
        except _Killed:
            return  # nothing published: the previous generation keeps serving (checked by the invariant)
        self._published()

    def _published(self) -> None:
        """An ingest completed: the model of what is served follows the files on disk."""
        self.ingested = True
        self.served = {name: text for name, text in self.served.items() if name in self.files}
        self.served.update({name: text for name, text in self.files.items() if name not in self.corrupt})

    @invariant()
    def the_index_serves_exactly_the_last_good_versions(self) -> None:
        snapshot = load_snapshot(self.settings)
        if not self.ingested:
            return
        assert sorted(d.source for d in snapshot.documents.values()) == sorted(self.served)
        shadow = self.root / "shadow"
        expected: dict[str, str] = {}
        for name, text in self.served.items():
            path = shadow / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            doc = read_document(path, shadow)
            assert snapshot.texts[doc.doc_id] == doc.text
            expected.update({c.chunk_id: c.text for c in split_document(doc)})
        assert {cid: c.text for cid, c in snapshot.chunks.items()} == expected
        assert len(snapshot.chunk_order) == len(set(snapshot.chunk_order)) == len(expected), "each chunk once"


IngestMachine.TestCase.settings = hypothesis_settings(max_examples=15, stateful_step_count=8, deadline=None)
TestIngestStateMachine = IngestMachine.TestCase
