"""What the answer step knows about a question and each passage and sentence it might quote.

These are the inputs of the fitted answer model (bot/model.py): how close in meaning, how many of the
question's words, whether dense and lexical retrieval agree, and whether a sentence holds the kind of
thing the question asks for (a name for who, a date for when, a figure for how many, a reason for why).
Nothing here decides; every weight and threshold is fitted by `praktikbot eval --fit`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from bot.currency import versions
from bot.evidence import Concept, TermIndex
from bot.retrieve import Hit, Retrieval
from ingest.chunking import ANSWER_HEAD
from ingest.snapshot import Snapshot, per_generation
from ingest.snapshot import chunk_terms as chunk_terms_of
from ingest.terms import terms

PASSAGES_CONSIDERED = 10  # the top retrieved passages the model rates (and may quote)
# The question's closest sentences in the passages it rates that "explain" it (see `unexplained`).
# Out-of-fold AUC of the kind model on the bank's tune split: 3 sentences of 5 passages 0.733, 6 of 10
# 0.755, 10 of 10 0.759, 15 of 10 0.750.
EXPLAINING_SENTENCES = 10

# What the question asks for, tolerant of missing æ/ø/å. The first pattern that matches wins.
_QUESTION_TYPES: list[tuple[str, re.Pattern[str]]] = [
    ("define", re.compile(r"\b(st(å|aa|a)r \S+ for|stands? for|betyder|betydning\w*|forkortelse\w*|abbreviation|"
                          r"acronym|what does \S+ mean)\b", re.I)),
    ("contact", re.compile(r"\b(telefon\w*|tlf|phone|e-?mail\w*|mailadresse\w*|adresse\w*|address\w*|"
                           r"kontaktoplysning\w*|contact details)\b", re.I)),
    ("why", re.compile(r"\b(hvorfor|why|how come|begrundelse\w*|årsag\w*|aarsag\w*|reason\w*)\b", re.I)),
    ("when", re.compile(r"\b(hvorn(å|aa|a)r|when|dato\w*|date[sd]?|frist\w*|deadline|"
                        r"(hvilket|which|what) (år|aar|ar|year))\b", re.I)),
    ("how-many", re.compile(r"\b(hvor (mange|meget|l(æ|ae|e)nge|lang\w*|ofte)|how (many|much|long|often)|antal\w*|"
                            r"number of|varighed\w*|duration|koste\w*|cost\w*|budget\w*|pris\w*|price\w*|"
                            r"løn|salary|wage)\b", re.I)),
    ("who", re.compile(r"\b(hvem|who|whom|whose|hvilken (myndighed|person|medarbejder))\b", re.I)),
    ("how", re.compile(r"\b(hvordan|how)\b", re.I)),
    ("yes-no", re.compile(r"^\W*(kan|m(å|aa|a)|skal|er|har|bliver|f(å|aa)r|g(æ|ae)lder|bruger|anvender|findes|"
                          r"modtager|tæller|taeller|indgår|does|do|is|are|can|may|must|should|will|has|have|did|"
                          r"was|were|could|would)\b", re.I)),
]
QUESTION_TYPES = ("what",) + tuple(name for name, _ in _QUESTION_TYPES)
_NUMBER_WORDS = (r"én|en|et|to|tre|fire|fem|seks|syv|otte|ni|ti|elleve|tolv|tyve|halvdelen|ingen|alle|"
                 r"hundrede|tusind|one|two|three|four|five|six|seven|eight|nine|ten|half|none")
# What a sentence that answers each type holds.
_ANSWER_FORMS: dict[str, re.Pattern[str]] = {
    "define": re.compile(r"=|\((?=[^)]*[A-ZÆØÅ])|\bstår for\b|\baltså\b|\bdvs\.?|\bbetyder\b", re.I),
    "contact": re.compile(r"@|\+?\d[\d ]{6,}\d|\b\w+(vej|gade|allé|plads|torv)\s+\d+", re.I),
    "why": re.compile(r"\b(fordi|skyldes|derfor|årsag\w*|begrund\w*|grund\w*|for at|med henblik på|formål\w*|"
                      r"hensyn\w*|sikre\w*|since|because)\b", re.I),
    "when": re.compile(r"\b\d{1,2}\.\s*(januar|februar|marts|april|maj|juni|juli|august|september|oktober|"
                       r"november|december)\b|\b(19|20)\d\d\b|\b\d{1,2}/\d{1,2}\b|\b(uge|måned|kvartal|år|dag)\w*\b",
                       re.I),
    "how-many": re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I),
    # a name, an authority or an acronym: a capitalised word that doesn't start the sentence
    "who": re.compile(r"(?<=[\w,;:] )[A-ZÆØÅ][\wæøåÆØÅ-]+|\b[A-ZÆØÅ]{2,}\b"),
}
_NOT_AN_ANSWER = re.compile(r"^(spørgsmål \d+|kære\b|med venlig|venlig hilsen)", re.I)
_SOURCE_REFERENCE = re.compile(r"^\(.*\)$", re.S)  # "(LBK nr. 280 af 1/3 2024 § 58)"
_SALUTATION = re.compile(r"^(kære|dear)\b", re.I)
_Span = tuple[int, int, str, float, int]  # a sentence of a passage: start, end, text, similarity, vector row


def question_type(question: str) -> str:
    for name, pattern in _QUESTION_TYPES:
        if pattern.search(question):
            return name
    return "what"


def _asks_or_greets(stripped: str) -> bool:
    """A question, a greeting or a question's number: never quoted as an answer."""
    return stripped.endswith("?") or bool(_NOT_AN_ANSWER.match(stripped))


def is_statement(sentence: str) -> bool:
    """A sentence that can answer something: not a question, greeting, source reference or heading line."""
    stripped = sentence.strip()
    if _asks_or_greets(stripped) or _SOURCE_REFERENCE.match(stripped):
        return False
    return len(stripped.split()) >= 4 and (stripped[-1:] in ".!:)\"”" or len(stripped.split()) >= 8)


def _attached(spans: list[_Span], index: int, text: str) -> _Span:
    """A statement with the lines that belong to it: the source reference right after it ("(LBK nr. 280
    af 1/3 2024 § 57)") and a letter's salutation right before it ("Kære …"). They are not statements of
    their own, yet they hold what a question about a rule's legal basis or a letter's addressee asks for."""
    start, end, _, similarity, row = spans[index]
    after = spans[index + 1] if index + 1 < len(spans) else None
    if after and _SOURCE_REFERENCE.match(after[2].strip()) and not text[end:after[0]].strip():
        end = after[1]
    before = spans[index - 1] if index else None
    if before and _SALUTATION.match(before[2].strip()) and not text[before[1]:start].strip():
        start = before[0]
    return start, end, text[start:end], similarity, row


def _block(spans: list[_Span], text: str) -> list[_Span]:
    """A passage with no statements (a signature block: greeting, name, title) is quoted whole, as one
    sentence as close to the question as its closest line: a name and a title answer "who signed" only
    together. Nothing, when it holds only questions or a greeting."""
    lines = [s for s in spans if not _asks_or_greets(s[2].strip())]
    if not lines:
        return []
    closest = max(lines, key=lambda s: s[3])
    start, end = spans[0][0], spans[-1][1]
    return [(start, end, text[start:end], closest[3], closest[4])]


@dataclass
class SentenceCandidate:
    start: int  # offsets into the document text
    end: int
    text: str
    similarity: float
    vector_row: int  # row in the snapshot's sentence vectors
    match: _Match  # which of the question's concepts it holds
    features: dict[str, float] = field(default_factory=dict)
    probability: float = 0.0  # set by the sentence model


@dataclass
class PassageCandidate:
    hit: Hit
    rank: int
    sentences: list[SentenceCandidate]
    features: dict[str, float] = field(default_factory=dict)
    probability: float = 0.0  # set by the passage model


@dataclass
class Question:
    text: str  # what the user asked
    query: str  # what was searched (with a follow-up's context)
    language: str
    concepts: list[Concept]
    kind: str = field(init=False)  # what the question asks for, from its text

    def __post_init__(self) -> None:
        self.kind = question_type(self.text)


@dataclass
class CorpusTerms:
    """Per generation: each chunk's terms, how rare each term is (inverse chunk frequency), and each
    sentence's terms once it has been a candidate."""

    chunk_terms: dict[str, TermIndex]
    idf: dict[str, float]
    vocabulary: TermIndex
    sentence_terms: dict[int, TermIndex] = field(default_factory=dict)  # by sentence vector row

    def sentence(self, row: int, text: str) -> TermIndex:
        found = self.sentence_terms.get(row)
        if found is None:
            found = self.sentence_terms[row] = TermIndex(terms(text))
        return found

    def weight(self, concept: Concept) -> float:
        """A concept's rarity; a word the corpus never uses weighs as much as the rarest one."""
        known = [self.idf[s] for s in concept.stems if s in self.idf]
        return max(known) if known else math.log1p(len(self.chunk_terms))


@per_generation
def corpus_terms(snapshot: Snapshot) -> CorpusTerms:
    """A passage holds the words of its document's title too, as BM25 reads it: "svaret på henvendelsen"
    names the letter every passage of it belongs to."""
    chunk_terms = {cid: TermIndex(snapshot.tokens.get(cid) or chunk_terms_of(c)) for cid, c in snapshot.chunks.items()}
    frequency: dict[str, int] = {}
    for found in chunk_terms.values():
        for term in found.terms:
            frequency[term] = frequency.get(term, 0) + 1
    n = len(chunk_terms)
    return CorpusTerms(chunk_terms, {t: math.log1p(n / f) for t, f in frequency.items()}, TermIndex(frequency))


@dataclass
class _Match:
    """Which of the question's concepts a passage or sentence holds (computed once per term set)."""

    hits: list[bool]
    weights: list[float]

    @property
    def coverage(self) -> float:
        return sum(self.hits) / len(self.hits)

    @property
    def missing(self) -> float:
        """The rarity-weighted share of the concepts it lacks."""
        return sum(w for w, hit in zip(self.weights, self.hits, strict=True) if not hit) / sum(self.weights)

    @property
    def missing_count(self) -> int:
        return len(self.hits) - sum(self.hits)


class _Matcher:
    def __init__(self, question: Question, corpus: CorpusTerms) -> None:
        self.weights = [corpus.weight(c) for c in question.concepts]
        # Every passage's and sentence's terms are in the corpus's vocabulary: each concept becomes the
        # vocabulary's terms that show it (its stems and the compounds they start), once per question, so
        # whether a passage or sentence holds it is one set intersection.
        self._shown = [corpus.vocabulary.showing(c.stems) for c in question.concepts]
        self._cache: dict[int, _Match] = {}

    def __call__(self, found: TermIndex) -> _Match:
        match = self._cache.get(id(found))
        if match is None:
            match = self._cache[id(found)] = _Match([not shown.isdisjoint(found.terms) for shown in self._shown],
                                                    self.weights)
        return match


def _form(kind: str, text: str) -> float:
    pattern = _ANSWER_FORMS.get(kind)
    return float(bool(pattern and pattern.search(text)))


def unexplained(retrieval: Retrieval) -> np.ndarray:
    """The part of the question's vector its closest source sentences don't span: what it asks beyond
    what the sources say (a hire date, a phone number, another topic), whatever the sources are about.

    The kind model reads this rather than the question itself, so it learns which kinds of request the
    sources don't answer, not which topics this corpus happens to cover."""
    vector = retrieval.vector.astype(np.float64)
    matrices = [retrieval.snapshot.sentence_matrix(h.chunk) for h in retrieval.hits[:PASSAGES_CONSIDERED]]
    sentences = np.vstack([m for m in matrices if len(m)] or [np.zeros((0, len(vector)))]).astype(np.float64)
    if not len(sentences):
        return vector
    closest = sentences[np.argsort(-(sentences @ vector))[:EXPLAINING_SENTENCES]].T
    weights, *_ = np.linalg.lstsq(closest, vector, rcond=None)
    return vector - closest @ weights


def candidates(question: Question, retrieval: Retrieval) -> list[PassageCandidate]:
    """Every top passage with its quotable sentences, each with the features the models read.

    A question with no content words ("og hvorfor?" on its own) has nothing to look up: no candidates.
    Passages of a document that a newer version probably replaces (same type, nearly the same title) are
    not quoted in a current answer: left out (declared versions are filtered by retrieval already)."""
    if not question.concepts:
        return []
    snapshot = retrieval.snapshot
    old_versions = versions(snapshot).guessed if retrieval.current else frozenset()
    corpus = corpus_terms(snapshot)
    numbers = [c for c in question.concepts if c.word.isdigit()]
    match = _Matcher(question, corpus)
    vocabulary = match(corpus.vocabulary)
    rarest = max(range(len(question.concepts)), key=lambda i: match.weights[i])
    out: list[PassageCandidate] = []
    for rank, hit in enumerate(retrieval.hits[:PASSAGES_CONSIDERED]):
        chunk = hit.chunk
        if not chunk.sentences or chunk.doc_id in old_versions:
            continue
        text = snapshot.texts[chunk.doc_id]
        sims = snapshot.sentence_matrix(chunk) @ retrieval.vector
        answer_start, asked = chunk.start, 0.0
        spans: list[_Span] = []
        for row, ((start, end), sim) in enumerate(zip(chunk.sentences, sims, strict=True)):
            sentence = text[start:end]
            if sentence.rstrip().endswith("?"):
                asked = max(asked, float(sim))
            if ANSWER_HEAD.match(sentence.strip()):
                answer_start = end
            spans.append((start, end, sentence, float(sim), chunk.sentence_row + row))
        quotable = [_attached(spans, i, text) for i, s in enumerate(spans) if is_statement(s[2])] or \
            _block(spans, text)
        if not quotable:
            continue
        passage_terms = corpus.chunk_terms[chunk.chunk_id]
        sentences = [SentenceCandidate(start, end, sentence, sim, row, match(corpus.sentence(row, sentence)))
                     for start, end, sentence, sim, row in quotable]
        in_passage = match(passage_terms)
        best = max(s.similarity for s in sentences)
        top_text = " ".join(s.text for s in sorted(sentences, key=lambda s: -s.similarity)[:2])
        out.append(PassageCandidate(hit, rank, sentences, {
            "dense": hit.dense,
            "best_sentence": best,
            "asked": asked,
            "dense_rank": 1.0 / (1 + hit.dense_rank) if hit.dense_rank is not None else 0.0,
            "lexical_rank": 1.0 / (1 + hit.lexical_rank) if hit.lexical_rank is not None else 0.0,
            "lexical": hit.lexical / retrieval.top_lexical if retrieval.top_lexical else 0.0,
            "fused_rank": 1.0 / (1 + rank),
            "coverage": in_passage.coverage,
            "missing": in_passage.missing,
            "unknown": vocabulary.missing,
            "unknown_count": math.log1p(vocabulary.missing_count),
            "missing_count": math.log1p(in_passage.missing_count),
            "rarest_missing": float(not in_passage.hits[rarest]),
            "sentence_coverage": max(s.match.coverage for s in sentences),
            "sentence_missing": min(s.match.missing for s in sentences),
            "numbers_missing": float(any(not (c.stems & passage_terms.terms) for c in numbers)),
            "form": _form(question.kind, top_text),
            "answer_part": float(any(s.start >= answer_start for s in sentences) and answer_start > chunk.start),
        }))
    _relative_features(question, out)
    for passage in out:
        _sentence_features(question, passage, out)
    for passage in out:
        _per_language(question, passage.features)
    return out


def _per_language(question: Question, features: dict[str, float]) -> None:
    """Split the match features into a Danish and an English copy (the other one 0), so the passage
    model weighs them per language: BM25 on an English question matches through the glossary only, and
    on a Danish paraphrase it favours the passage that shares words over the one that answers. One weight
    for both put a labelled passage among the three rated best for 81.6 % of the held-out answerable
    questions; a weight per language, 84.1 %."""
    for name in BY_LANGUAGE:
        value = features.pop(name)
        features[f"da_{name}"], features[f"en_{name}"] = (0.0, value) if question.language == "en" else (value, 0.0)


def _relative_features(question: Question, passages: list[PassageCandidate]) -> None:
    """How each passage compares with the best of the others, and what the question is like."""
    if not passages:
        return
    top_dense = max(p.features["dense"] for p in passages)
    top_sentence = max(p.features["best_sentence"] for p in passages)
    top_coverage = max(p.features["coverage"] for p in passages)
    english = float(question.language == "en")
    kinds = {kind: float(question.kind == kind) for kind in QUESTION_TYPES}
    for p in passages:
        f = p.features
        f["dense_gap"] = f["dense"] - top_dense
        f["sentence_gap"] = f["best_sentence"] - top_sentence
        f["coverage_gap"] = f["coverage"] - top_coverage
        f["agree"] = float(f["dense_rank"] >= 1 / 3 and f["lexical_rank"] >= 1 / 3)
        f["english"] = english
        f["concepts"] = math.log1p(len(question.concepts))
        f["form_needed"] = float(question.kind in _ANSWER_FORMS)
        f["form_missing"] = f["form_needed"] * (1.0 - f["form"])
        f.update({f"type_{kind}": value for kind, value in kinds.items() if kind != "what"})


def _sentence_features(question: Question, passage: PassageCandidate, passages: list[PassageCandidate]) -> None:
    best_here = max(s.similarity for s in passage.sentences)
    best_all = max(p.features["best_sentence"] for p in passages)
    for index, s in enumerate(sorted(passage.sentences, key=lambda s: -s.similarity)):
        form = _form(question.kind, s.text)
        s.features = {
            "similarity": s.similarity,
            "gap_passage": s.similarity - best_here,
            "gap_all": s.similarity - best_all,
            "rank_in_passage": 1.0 / (1 + index),
            "overlap": s.match.coverage,
            "form": form,
            "form_missing": float(question.kind in _ANSWER_FORMS) * (1.0 - form),
            **{f"form_{kind}": form * (question.kind == kind) for kind in _ANSWER_FORMS},
            "passage_dense": passage.features["dense"],
            "passage_coverage": passage.features["coverage"],
            "passage_rank": passage.features["fused_rank"],
        }


# The passage features the model weighs separately for Danish and English questions (_per_language).
BY_LANGUAGE = ("lexical", "lexical_rank", "dense_rank", "dense", "best_sentence", "sentence_gap", "dense_gap",
               "coverage", "coverage_gap", "missing_count")

# Which way each feature may push the models (+1: more of it never makes an answer less likely, -1: never
# more likely, 0: either). Fitting keeps these signs, so a question unlike any in the bank (chit-chat,
# an injection) can't look answerable because a weight of the wrong sign extrapolates.
SIGNS: dict[str, int] = {
    "dense": 1, "best_sentence": 1, "asked": 1, "dense_rank": 1, "lexical_rank": 1, "lexical": 1, "fused_rank": 1,
    "coverage": 1, "missing": -1, "unknown": -1, "unknown_count": -1, "missing_count": -1, "rarest_missing": -1,
    "sentence_coverage": 1, "sentence_missing": -1,
    "numbers_missing": -1, "form": 1, "form_missing": -1, "dense_gap": 1, "sentence_gap": 1,
    "coverage_gap": 1, "agree": 1, "passage_p": 1,
    "form_why": 1, "form_when": 1, "form_how-many": 1, "form_who": 1,
    "form_define": 1, "form_contact": 1,
    "similarity": 1, "gap_passage": 1, "gap_all": 1, "rank_in_passage": 1, "overlap": 1, "passage_dense": 1,
    "passage_coverage": 1, "passage_rank": 1,
    "kind": 1, "passages": 1,  # the confidence model's inputs (bot/model.py: confidence_inputs)
}
SIGNS.update({f"{language}_{name}": SIGNS[name] for name in BY_LANGUAGE for language in ("da", "en")})
