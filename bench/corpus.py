"""A seeded synthetic corpus that looks like knowledge/ to the ingest: Danish-like Markdown documents.

Cost curves need corpora of 1k to 100k chunks, far more than the demo corpus has, and they must be the
same on every run. Each document has front matter like knowledge/'s (title, type, valid_from, audience,
owner, example; see ingest/documents.py), a title heading, then "## " sections of one or two paragraphs.
Every section stays under the chunker's size cap, so the ingest makes exactly one chunk of each: asking
for N chunks writes N sections. Sentences mix Danish function words, a word list of the domain and
pseudo-words built from Danish syllables, each drawn with Zipf-like frequencies, so BM25 sees a
realistic vocabulary that grows with the corpus and sentences of the demo corpus's length (about
100 characters, five to a chunk).

Run alone: `python bench/corpus.py OUT_DIR --chunks 1000 [--seed 0]`."""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import random
from dataclasses import dataclass
from pathlib import Path

FUNCTION_WORDS = (
    "og i at der er det som en på til med for af ikke har skal kan den de om et var efter også når eller "
    "være ved hvis så vil fra under mellem blive bliver hvor kun inden samt derfor dog men have jf herunder"
).split()
DOMAIN_WORDS = (
    "virksomhedspraktik borgeren borgere forvaltningen jobcentret jobcenter virksomheden virksomheder arbejdsgiveren "
    "løntilskud nytteindsats rimelighedskravet forholdstalskravet tillidsrepræsentanten medarbejderrepræsentanten "
    "kontanthjælp uddannelseshjælp ledighedsydelse sygedagpenge integrationsydelse revalidering ressourceforløb "
    "jobafklaringsforløb sagsbehandleren rådgiveren tilbuddet tilbud bevillingen bevilling ansøgningen ansøgning "
    "praktikforløbet praktikken praktikstedet praktikperioden varigheden uger måneder forlængelse opfølgning "
    "tilsynet stikprøvekontrol kontrollen retningslinjen retningslinjerne bekendtgørelsen lovgivningen reglerne "
    "beskæftigelsesindsatsen aktivering indsatsen samtale samtaler kontaktforløb handleplan mål kompetencer "
    "afklaring opkvalificering arbejdsmarkedet ordinære ansatte ansættelse løn ydelse godtgørelse befordring "
    "forsikring arbejdsskade sygdom fravær ophør afbrydelse vurdering dokumentation oplysninger registrering "
    "kvartalsoversigt p-nummeret cvr-nummer ledelsen afdelingen kommunen københavns beskæftigelses- "
    "integrationsforvaltningens ankestyrelsen styrelsen undersøgelsen sagerne afgørelse klage partshøring "
    "aftale aftalen skriftligt udtalelse betingelserne kravet kravene grænsen antallet procent timer"
).split()
ONSETS = ("b d f g h j k l m n p r s t v bl br dr fl fr gl gr kl kr pl pr sk sl sm sn sp st str tr kv sv "
          "skr spr").split()
VOWELS = "a e i o u y æ ø å a e i e ej øj av".split()
CODAS = ("", "", "", "n", "r", "l", "s", "t", "nd", "ng", "st", "rt", "lse", "ning", "hed", "else", "skab", "ende")
FOLDERS = {"guidelines": "guideline", "procedures": "procedure"}
PSEUDO_WORDS = 30_000  # the vocabulary beyond the word lists: grows the BM25 index as the corpus grows
FILES_PER_FOLDER = 500
# like a municipality's guidelines and procedures; the ingest writes each document's chunks to Chroma in one
# call with a large fixed cost, so the ingest time depends on the sections per document as well as the size
SECTIONS_PER_DOCUMENT = (5, 60)
SENTENCES_PER_SECTION = (3, 7)
WORDS_PER_SENTENCE = (6, 16)
MAX_SECTION_CHARS = 1300  # under ingest.chunking.MAX_CHUNK_CHARS (1500): one chunk per section
# shares of a sentence's words: function words, domain words, pseudo-words
WORD_MIX = (0.40, 0.35, 0.25)


@dataclass
class Corpus:
    root: Path
    files: list[Path]
    chunks: int  # sections written, which the ingest turns into exactly as many chunks
    sentences: int


class _Words:
    """Draws words with Zipf-like frequencies from the three lists."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        pseudo = sorted(_pseudo_words(rng, PSEUDO_WORDS))
        # a seeded rank for every word; the weight of rank r is 1/(r+1)
        self.lists = [rng.sample(words, len(words)) for words in (FUNCTION_WORDS, DOMAIN_WORDS, pseudo)]
        self.weights = [list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
                        for words in self.lists]
        self.long = [w for w in self.lists[1] + self.lists[2][:2000] if len(w) >= 6 and w.isalpha()]

    def draw(self, count: int) -> list[str]:
        kinds = self.rng.choices(range(3), weights=WORD_MIX, k=count)
        return [self.rng.choices(self.lists[kind], cum_weights=self.weights[kind])[0] for kind in kinds]

    def sentence(self) -> str:
        """A sentence ending in a long word, so no abbreviation ("nr.", "lov.") hides its end."""
        words = self.draw(self.rng.randint(*WORDS_PER_SENTENCE) - 1) + [self.rng.choice(self.long)]
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."

    def phrase(self, low: int, high: int) -> str:
        kinds = [1] + [self.rng.choice((1, 2)) for _ in range(self.rng.randint(low, high) - 1)]
        text = " ".join(self.rng.choices(self.lists[k], cum_weights=self.weights[k])[0] for k in kinds)
        return text[0].upper() + text[1:]


def _pseudo_words(rng: random.Random, count: int) -> set[str]:
    words: set[str] = set()
    while len(words) < count:
        syllables = rng.choice((1, 2, 2, 2, 3))
        word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))
        if len(word) >= 3:
            words.add(word)
    return words


def _section(words: _Words) -> tuple[str, int]:
    """One or two paragraphs under the size cap; returns the text and its number of sentences."""
    paragraphs: list[list[str]] = [[]]
    size = 0
    for _ in range(words.rng.randint(*SENTENCES_PER_SECTION)):
        sentence = words.sentence()
        if size + len(sentence) + 2 > MAX_SECTION_CHARS and paragraphs[0]:
            break
        if paragraphs[-1] and words.rng.random() < 0.15:
            paragraphs.append([])
        paragraphs[-1].append(sentence)
        size += len(sentence) + 2
    return "\n\n".join(" ".join(p) for p in paragraphs if p), sum(len(p) for p in paragraphs)


def _document(words: _Words, sections: int, doc_type: str) -> tuple[str, int]:
    rng = words.rng
    title = f"{words.phrase(2, 4)} ({doc_type} {rng.randint(1, 999)})"
    valid_from = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randint(0, 3650))
    lines = ["---", f'title: "{title}"', f"type: {doc_type}", f'valid_from: "{valid_from.isoformat()}"',
             f"audience: {rng.choice(('public', 'internal'))}",
             "owner: Beskæftigelses- og Integrationsforvaltningen (syntetisk)", "example: true", "---",
             f"# {title}", ""]
    headings: set[str] = set()
    sentences = 0
    while len(headings) < sections:
        heading = words.phrase(2, 5)
        if heading in headings:
            continue
        headings.add(heading)
        body, count = _section(words)
        sentences += count
        lines += [f"## {heading}", "", body, ""]
    return "\n".join(lines), sentences


def write_corpus(root: Path, chunks: int, seed: int = 0) -> Corpus:
    """Write documents with `chunks` sections in all under `root` (made if missing); the same seed
    writes the same files, byte for byte."""
    if chunks < 1:
        raise ValueError("chunks skal være mindst 1 (chunks must be at least 1)")
    rng = random.Random(seed)
    words = _Words(rng)
    files: list[Path] = []
    written = sentences = 0
    while written < chunks:
        sections = min(chunks - written, rng.randint(*SECTIONS_PER_DOCUMENT))
        folder = rng.choice(sorted(FOLDERS))
        number = len(files)
        path = root / folder / f"bench-{number // FILES_PER_FOLDER:04d}" / f"dokument-{number:06d}.md"
        text, count = _document(words, sections, FOLDERS[folder])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        files.append(path)
        written += sections
        sentences += count
    return Corpus(root=root, files=files, chunks=written, sentences=sentences)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a seeded synthetic Danish-like corpus.")
    parser.add_argument("out", type=Path, help="the folder to write the documents into")
    parser.add_argument("--chunks", type=int, default=1000, help="chunks the ingest will make of it")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    corpus = write_corpus(args.out, args.chunks, args.seed)
    print(f"{len(corpus.files)} files, {corpus.chunks} chunks, {corpus.sentences} sentences in {corpus.root}")


if __name__ == "__main__":
    main()
