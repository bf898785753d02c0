"""Personal data in a document, found and masked before anything is chunked, embedded or stored:
CPR numbers (masked by default), e-mail addresses and Danish phone numbers (masked when configured).
The ingest report names the document, the kind and the count — never the data itself."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

CPR = "cpr-nummer"
EMAIL = "e-mail"
PHONE = "telefonnummer"
# What a masked item reads as in the index: still readable Danish, never the data.
MASKS = {CPR: "XXXXXX-XXXX", EMAIL: "[e-mail]", PHONE: "[telefonnummer]"}

_CPR = re.compile(r"(?<![\w-])(\d{2})(\d{2})(\d{2})[- ]?\d{4}(?![\w-])")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")
_PHONE = re.compile(r"(?<![\d/.-])(?:\+45 ?)?(?:\d{8}|\d{2} \d{2} \d{2} \d{2})(?![\d/-]|\.\d)")


def _valid_cpr_date(match: re.Match[str]) -> bool:
    """DDMMYY must be a real date; the century is unknown, so 29 February counts in any leap year."""
    day, month, year = (int(g) for g in match.groups())
    if not 1 <= month <= 12:
        return False
    days = 29 if month == 2 and year % 4 == 0 else calendar.monthrange(2001, month)[1]
    return 1 <= day <= days


@dataclass(frozen=True)
class MaskingPolicy:
    """Which kinds are masked; its `key` goes into each document's content hash, so a changed
    policy re-processes every document."""

    cpr: bool = True
    contact_details: bool = False

    @property
    def key(self) -> str:
        return f"mask:cpr={int(self.cpr)},contact={int(self.contact_details)}"

    def masks(self, kind: str) -> bool:
        return self.cpr if kind == CPR else self.contact_details


def _spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every item, without overlaps: a CPR number or the digits of an e-mail
    address are never counted again as a phone number."""
    found = [(*m.span(), CPR) for m in _CPR.finditer(text) if _valid_cpr_date(m)]
    found += [(*m.span(), EMAIL) for m in _EMAIL.finditer(text)
              if not any(s < m.end() and m.start() < e for s, e, _ in found)]
    found += [(*m.span(), PHONE) for m in _PHONE.finditer(text)
              if not any(s < m.end() and m.start() < e for s, e, _ in found)]
    return sorted(found)


def mask_personal_data(text: str, policy: MaskingPolicy) -> tuple[str, dict[str, int], dict[str, int]]:
    """(text with the policy's kinds masked, counts masked by kind, counts found but kept by kind)."""
    masked: dict[str, int] = {}
    kept: dict[str, int] = {}
    parts, last = [], 0
    for start, end, kind in _spans(text):
        if policy.masks(kind):
            parts += [text[last:start], MASKS[kind]]
            last = end
            masked[kind] = masked.get(kind, 0) + 1
        else:
            kept[kind] = kept.get(kind, 0) + 1
    return "".join(parts) + text[last:], masked, kept

