"""Sources in time: which version of a document is in force at a date, which date a question asks
about, and which rule changes came after a source an answer quotes.

- Versions: a document's `supersedes` (a path or a title) names the versions it replaces. Where no
  document says so, a newer document of the same type with nearly the same title is taken to replace an
  older one (a guess: its passages only yield, they are not hidden).
- In force at a date: valid_from ≤ date ≤ valid_to, and not replaced by a version in force by then. A
  current answer (no date asked) quotes only what is in force today; an as-of answer quotes what was in
  force then, superseded versions included.
- Warnings: a quoted source written before a change in the rules timeline whose topics the question or
  the quote touches gets a warning naming the change (only changes up to the date answered for)."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.models import Citation, SourceWarning
from ingest.dates import DateError, danish, english, parse_date, period_end, period_start
from ingest.snapshot import DocumentRecord, Snapshot, per_generation
from ingest.terms import terms

log = logging.getLogger(__name__)
TITLE_OVERLAP = 0.6  # share of title words two versions of one document have in common

_YEAR = r"(\d{4})"
_DATE = r"(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./ -]\d{4}|\d{1,2}\.?\s+[a-zæøå]+\.?\s+\d{4})"
# "before 2020", "før 1. januar 2020": the day before
_BEFORE = re.compile(rf"\b(?:før|inden|forud for|before|prior to)\s+(?:(?:den|the|d\.)\s+)?(?:{_DATE}|{_YEAR})\b", re.I)
# "pr. 1.6.2019", "as of 2019-06-01", "gjaldt den 1. juni 2019"
_ON = re.compile(rf"\b(?:pr\.|per|as of|as at|gjaldt|galdt|gældende|applied|in force)\s+"
                 rf"(?:(?:den|on|the|d\.)\s+)?{_DATE}", re.I)
# "Hvad gjaldt i 2019?", "the rules in 2019", "in force in 2019": the end of that year
_IN_YEAR = re.compile(
    rf"\b(?:gjaldt|galdt|gældende|var\s+(?:reglen|reglerne|kravet|kravene)|applied|in force|were\s+the\s+rules"
    rf"|was\s+the\s+rule|rules?|regler(?:ne)?)\b[^.?!]{{0,40}}?\b(?:i|in|during|år)\s+{_YEAR}\b", re.I)
# the words before a date that belong to it ("i 2019", "pr. 1.6.2019", "before 2020")
_LEAD = re.compile(r"(?:\b(?:i|in|during|år|pr\.|per|as of|as at|den|on|the|d\.|før|inden|forud for|before"
                   r"|prior to)\s+)+$", re.I)


@dataclass(frozen=True)
class AsOf:
    """The date an answer is for, and where it came from: the request, the question, or today."""

    date: dt.date
    given: str  # "request", "question" or "today"
    span: tuple[int, int] | None = None  # where the question names the date ("i 2019")

    @property
    def current(self) -> bool:
        return self.given == "today"

    def without_date(self, question: str) -> str:
        """The question without the date it names: the date picks the sources, the rest is what to look
        up in them (a year in the query would pull in passages that merely mention it). When the date
        sits in a lead before a colon ("Hvad gjaldt i 2023: hvor …?"), the whole lead goes: "hvad gjaldt"
        is the time framing, and left in the question it reads as a request of its own."""
        if self.span is None:
            return question
        start, end = self.span
        colon = question.find(":", end)
        if colon != -1 and ":" not in question[:start] and question[colon + 1:].strip():
            return question[colon + 1:].strip()
        return " ".join(f"{question[:start]} {question[end:]}".split()).replace(" :", ":").replace(" ?", "?")


def as_of(question: str, requested: str | dt.date | None, today: dt.date | None = None) -> AsOf:
    """The date to answer for: `requested` (the API's as_of), else one the question names in a way that
    asks for the rules of a time ("hvad gjaldt i 2019", "before 2020", "pr. 1.6.2019"), else today.
    A year alone ("the 2014 study") never moves the date."""
    today = today or dt.date.today()
    if requested is not None:
        return AsOf(requested if isinstance(requested, dt.date) else period_end(parse_date(requested)), "request")
    for pattern, pick in ((_BEFORE, _day_before), (_ON, _end), (_IN_YEAR, _end)):
        if match := pattern.search(question):
            group = next(i for i, g in enumerate(match.groups(), start=1) if g)
            start, end = match.span(group)
            lead = _LEAD.search(question[:start])
            try:
                date = pick(parse_date(match.group(group)))
            except DateError:
                continue
            return AsOf(min(date, today), "question", (lead.start() if lead else start, end))
    return AsOf(today, "today")


def _day_before(iso: str) -> dt.date:
    return period_start(iso) - dt.timedelta(days=1)


def _end(iso: str) -> dt.date:
    return period_end(iso)


# --- versions ------------------------------------------------------------------------------------------


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, len(a | b))


@dataclass(frozen=True)
class Versions:
    superseded_by: dict[str, str]  # doc id → the doc id of the version that replaces it (declared)
    guessed: frozenset[str]  # doc ids a newer, similarly titled document of the same type probably replaces

    def newer(self, doc_id: str) -> str | None:
        return self.superseded_by.get(doc_id)

    def replaces(self, doc_id: str) -> list[str]:
        return sorted(old for old, new in self.superseded_by.items() if new == doc_id)


def _declared(docs: list[DocumentRecord]) -> dict[str, str]:
    by_source = {d.source: d for d in docs}
    by_title: dict[str, list[DocumentRecord]] = {}
    for doc in docs:
        by_title.setdefault(doc.title.casefold(), []).append(doc)
    replaced: dict[str, str] = {}
    for new in docs:
        for ref in new.supersedes:
            old = by_source.get(ref.strip("/"))
            if old is None:
                titled = [d for d in by_title.get(ref.casefold(), []) if d.doc_id != new.doc_id]
                old = titled[0] if len(titled) == 1 else None
            if old is None or old.doc_id == new.doc_id:
                log.warning("%s: supersedes %r names no other document in the index", new.source, ref)
                continue
            replaced[old.doc_id] = new.doc_id
    return replaced


@per_generation
def versions(snapshot: Snapshot) -> Versions:
    """Which document replaces which (computed once per generation)."""
    docs = list(snapshot.documents.values())
    declared = _declared(docs)
    involved = set(declared) | set(declared.values())
    dated = [d for d in docs if d.valid_from and d.doc_id not in involved]
    titles = {d.doc_id: set(terms(d.title)) for d in dated}
    guessed = frozenset(
        old.doc_id for old in dated for new in dated
        if new.doc_id != old.doc_id and new.doc_type == old.doc_type
        and period_start(new.valid_from) > period_start(old.valid_from)
        and _overlap(titles[old.doc_id], titles[new.doc_id]) >= TITLE_OVERLAP
    )
    return Versions(declared, guessed)


def in_force(snapshot: Snapshot, doc: DocumentRecord, date: dt.date) -> bool:
    """The document applied on `date`: within its validity and not yet replaced by a version in force."""
    if doc.valid_from and period_start(doc.valid_from) > date:
        return False
    if doc.valid_to and period_end(doc.valid_to) < date:
        return False
    newer = snapshot.documents.get(versions(snapshot).newer(doc.doc_id) or "")
    return newer is None or bool(newer.valid_from and period_start(newer.valid_from) > date)


@per_generation
def _in_force_on(snapshot: Snapshot) -> Callable[[dt.date], frozenset[str]]:
    @functools.lru_cache(maxsize=64)
    def on(date: dt.date) -> frozenset[str]:
        return frozenset(d.doc_id for d in snapshot.documents.values() if in_force(snapshot, d, date))

    return on


def documents_in_force(snapshot: Snapshot, date: dt.date) -> frozenset[str]:
    """The doc ids in force on `date` (cached per generation and date)."""
    return _in_force_on(snapshot)(date)


# --- warnings ------------------------------------------------------------------------------------------


def rule_change_warnings(snapshot: Snapshot, question: str, citations: list[Citation], date: dt.date,
                         language: str) -> list[SourceWarning]:
    """One warning per quoted source and later rule change (up to `date`) that the question or the quote
    touches. A source without a date can't be placed and gets none."""
    asked: set[str] | None = None  # the question's stems, when some source is older than a change
    found: dict[tuple[str, str], SourceWarning] = {}
    for citation in citations:
        doc = snapshot.documents.get(citation.doc_id)
        if doc is None or not doc.valid_from:
            continue
        written = period_start(doc.valid_from)
        later = [c for c in snapshot.timeline if written < period_start(c.date) <= date]
        if not later:  # the common case: a source newer than every change (no stemming needed)
            continue
        asked = set(terms(question)) if asked is None else asked
        touched = asked | set(terms(citation.quote))
        for change in later:
            if (doc.source, change.act) in found:
                continue
            if any(set(terms(topic)) and set(terms(topic)) <= touched for topic in change.topics):
                found[(doc.source, change.act)] = SourceWarning(
                    source=doc.source, title=doc.title, doc_id=doc.doc_id, source_date=doc.valid_from,
                    date=change.date, act=change.act, summary=change.summary, verified=change.verified,
                    message=_message(doc.valid_from, change.date, change.act, change.verified, language))
    return list(found.values())


def _message(written: str, changed: str, act: str, verified: bool, language: str) -> str:
    if language == "en":
        text = (f"The source is from {english(written)}. The rules changed on {english(changed)} ({act}) – "
                "check the rule in force.")
        return text if verified else text + " Note: this change is not verified."
    text = (f"Kilden er fra {danish(written)}. Reglerne blev ændret {danish(changed)} ({act}) – "
            "kontrollér den gældende regel.")
    return text if verified else text + " Bemærk: ændringen er ikke verificeret."
