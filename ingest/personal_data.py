"""Spot personal data in a document before it is quoted to anyone: CPR numbers, e-mail addresses and
Danish phone numbers. The ingest report names the document, the kind and the count — never the data."""

from __future__ import annotations

import re

_PATTERNS = {
    # ddmmyy-xxxx with a plausible day and month
    "cpr-nummer": re.compile(r"\b(0[1-9]|[12]\d|3[01])(0[1-9]|1[0-2])\d{2}[- ]?\d{4}\b"),
    "e-mail": re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b"),
    "telefonnummer": re.compile(r"(?<![\d/.-])(?:\+45 ?)?(?:\d{8}|\d{2} \d{2} \d{2} \d{2})(?![\d/-]|\.\d)"),
}


def personal_data_counts(text: str) -> dict[str, int]:
    """How many of each kind the text holds (kinds with none are left out)."""
    found: dict[str, int] = {}
    cpr_spans = [m.span() for m in _PATTERNS["cpr-nummer"].finditer(text)]
    for kind, pattern in _PATTERNS.items():
        matches = [m for m in pattern.finditer(text)
                   if kind != "telefonnummer" or not any(s <= m.start() < e for s, e in cpr_spans)]
        if matches:
            found[kind] = len(matches)
    return found
