"""The rules timeline the admins keep in `knowledge/rules-timeline.yaml`: the dated changes of acts and
orders that can make an older source out of date (issue: sources in time).

The file is a YAML list; each entry has `date` (ISO or Danish form, ingest.dates), `act` (e.g. "lov nr.
548 af 7/5 2019"), `summary` (one line), `topics` (words or phrases a question or quote touches, e.g.
"KLV", "medarbejderrepræsentant") and optionally `verified: false` with a `note` saying what is not
verified. It is validated at every ingest; a timeline that doesn't validate fails with the entry and the
reason in the report, and the previous one stays in service."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from ingest.dates import DateError, parse_date
from ingest.documents import TIMELINE_FILE
from ingest.loaders import decode_text

FIELDS = {"date", "act", "summary", "topics", "verified", "note"}
MAX_BYTES = 200_000


class TimelineError(ValueError):
    """The timeline can't be used; the message names the entry and what is wrong with it."""


@dataclass(frozen=True)
class RuleChange:
    date: str  # ISO text at the precision written
    act: str
    summary: str
    topics: tuple[str, ...]
    verified: bool = True
    note: str = ""

    def as_dict(self) -> dict:
        return {**asdict(self), "topics": list(self.topics)}

    @classmethod
    def stored(cls, data: dict) -> RuleChange:
        return cls(**{**data, "topics": tuple(data["topics"])})


def _text(entry: dict, key: str, where: str, required: bool = True) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise TimelineError(f"{where}: {key} skal være en tekst (must be a non-empty text)")
    return " ".join(value.split())


def parse_timeline(text: str) -> list[RuleChange]:
    """Validate the timeline's YAML; the entries sorted by date."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise TimelineError(f"tidslinjen er større end {MAX_BYTES // 1000} kB (the timeline is too large)")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TimelineError(f"tidslinjen er ikke gyldig YAML (not valid YAML): {exc}") from exc
    if data is None:
        return []
    if not isinstance(data, list):
        raise TimelineError("tidslinjen skal være en liste af ændringer (the timeline must be a YAML list)")
    changes = []
    for number, entry in enumerate(data, start=1):
        where = f"ændring {number} (entry {number})"
        if not isinstance(entry, dict):
            raise TimelineError(f"{where}: skal have date, act, summary og topics (needs date, act, summary, topics)")
        if unknown := set(map(str, entry)) - FIELDS:
            raise TimelineError(f"{where}: ukendte felter (unknown fields): {', '.join(sorted(unknown))}")
        try:
            date = parse_date(entry.get("date"))
        except DateError as exc:
            raise TimelineError(f"{where}: date: {exc}") from exc
        topics = entry.get("topics")
        if (not isinstance(topics, list) or not topics
                or not all(isinstance(t, str | int) and str(t).strip() for t in topics)):
            raise TimelineError(f"{where}: topics skal være en liste af ord (topics must be a list of words)")
        verified = entry.get("verified", True)
        if not isinstance(verified, bool):
            raise TimelineError(f"{where}: verified skal være true eller false (verified must be true or false)")
        changes.append(RuleChange(date=date, act=_text(entry, "act", where), summary=_text(entry, "summary", where),
                                  topics=tuple(" ".join(str(t).split()) for t in topics), verified=verified,
                                  note=_text(entry, "note", where, required=False)))
    return sorted(changes, key=lambda c: c.date)


def read_timeline(knowledge_dir: Path) -> list[RuleChange]:
    """The knowledge dir's timeline (none when the file is missing); TimelineError when it is unusable."""
    path = knowledge_dir / TIMELINE_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise TimelineError(f"tidslinjen kan ikke læses (cannot read the timeline): {exc.strerror or exc}") from exc
    return parse_timeline(decode_text(raw))
