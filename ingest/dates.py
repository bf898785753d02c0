"""Dates in document metadata and the rules timeline, in the forms Danish administrations write them.

Accepted: ISO ("2020-01-01", a YAML date), Danish numeric ("1.1.2020", "1/1 2020", "1-1-2020"), written
out ("1. januar 2020", "1 jan. 2020"), a month ("januar 2020", "2020-01") or a year ("2019"). A date keeps
the precision it was written with, as ISO text ("2019", "2020-01", "2020-01-01"): ISO texts of a year or a
month compare as the period's first day, so "2019" < "2019-06-01" < "2020". `period_start` and
`period_end` give the first and last day of the period for date arithmetic."""

from __future__ import annotations

import calendar
import datetime as dt
import re

MONTHS = {
    "januar": 1, "jan": 1, "january": 1, "februar": 2, "feb": 2, "february": 2, "marts": 3, "mar": 3,
    "march": 3, "april": 4, "apr": 4, "maj": 5, "may": 5, "juni": 6, "jun": 6, "june": 6, "juli": 7,
    "jul": 7, "july": 7, "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9, "oktober": 10,
    "okt": 10, "oct": 10, "october": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}
MONTH_NAMES = ["januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
               "november", "december"]
_NUMERIC = re.compile(r"(\d{1,2})\s*[./-]\s*(\d{1,2})\s*[./ -]\s*(\d{4})")
_WRITTEN = re.compile(r"(?:(\d{1,2})\.?\s+)?([a-zæøå]+)\.?\s+(\d{4})")
_ISO = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")


class DateError(ValueError):
    """A date that can't be read; the message quotes it and says which forms are understood."""


def parse_date(value: object) -> str:
    """ISO text of `value` at the precision it was given in; DateError when it isn't a date."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise DateError(f"{value!r} er ikke en dato (not a date)")
    text = " ".join(value.strip().lower().split())
    if match := _ISO.fullmatch(text):
        year, month, day = (int(g) if g else None for g in match.groups())
        return _iso(value, year, month, day)
    if match := _NUMERIC.fullmatch(text):
        day, month, year = (int(g) for g in match.groups())
        return _iso(value, year, month, day)
    if (match := _WRITTEN.fullmatch(text)) and match.group(2) in MONTHS:
        day = int(match.group(1)) if match.group(1) else None
        return _iso(value, int(match.group(3)), MONTHS[match.group(2)], day)
    raise DateError(f"{value!r} er ikke en dato; skriv fx 2020-01-01, 1.1.2020 eller 1. januar 2020 "
                    "(not a date: write e.g. 2020-01-01, 1.1.2020 or 1. januar 2020)")


def _iso(raw: object, year: int, month: int | None, day: int | None) -> str:
    try:
        if day is not None:
            return dt.date(year, month or 1, day).isoformat()
        if month is not None:
            return dt.date(year, month, 1).isoformat()[:7]
        return dt.date(year, 1, 1).isoformat()[:4]
    except ValueError as exc:
        raise DateError(f"{raw!r} er ikke en gyldig dato (not a valid date: {exc})") from exc


def period_start(iso: str) -> dt.date:
    parts = [int(p) for p in iso.split("-")]
    return dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)


def period_end(iso: str) -> dt.date:
    parts = [int(p) for p in iso.split("-")]
    if len(parts) == 3:
        return dt.date(*parts)
    month = parts[1] if len(parts) > 1 else 12
    return dt.date(parts[0], month, calendar.monthrange(parts[0], month)[1])


def danish(iso: str) -> str:
    """The date as a Danish reader writes it: "1. januar 2020", "januar 2020" or "2019"."""
    parts = [int(p) for p in iso.split("-")]
    if len(parts) == 3:
        return f"{parts[2]}. {MONTH_NAMES[parts[1] - 1]} {parts[0]}"
    if len(parts) == 2:
        return f"{MONTH_NAMES[parts[1] - 1]} {parts[0]}"
    return str(parts[0])


def english(iso: str) -> str:
    """The date as an English reader writes it: "1 January 2020", "January 2020" or "2019"."""
    parts = [int(p) for p in iso.split("-")]
    month = dt.date(2000, parts[1], 1).strftime("%B") if len(parts) > 1 else ""
    if len(parts) == 3:
        return f"{parts[2]} {month} {parts[0]}"
    return f"{month} {parts[0]}" if month else str(parts[0])
