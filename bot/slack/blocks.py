"""Answer → Slack Block Kit, as pure functions.

Slack rejects a message whose text block is over 3,000 characters or that has over 50 blocks (a modal:
100), so every limit is kept here, where it is tested without Slack: long texts are cut at a word
boundary and marked with "…", never dropped silently."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

from bot.models import Answer, Citation, SourceWarning

TEXT_LIMIT = 3000
MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100
URL_LIMIT = 3000
QUOTE_CHARS = 300
ANSWER_PARTS = 5  # a long answer runs over at most this many sections, then it is cut
PASSAGE_PARTS = 3
WARNING_BLOCKS = 3  # rule-change warnings take at most this many context blocks, then say how many more
WARNINGS_ID = "praktikbot_warnings"
MORE_CHARS = 100  # kept free in the last warnings block for the line that says how many more

FEEDBACK_UP, FEEDBACK_DOWN = "feedback_up", "feedback_down"
SHOW_SOURCES, SHARE, OPEN_WEB = "show_sources", "share", "open_web"
ASK_EXPERT, SAVE_SOURCE = "ask_expert", "save_as_source"  # bot.slack.escalate

_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


def escape(text: str) -> str:
    """Slack's mrkdwn reads <…> as links and mentions; these three are the only escapes it knows."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _cut_at(text: str, limit: int) -> int:
    """Where to cut `text` to keep at most `limit` characters: the last paragraph, line or word break
    in the last quarter, else at the limit but never inside an &entity;."""
    window = text[:limit]
    for sep in ("\n\n", "\n", " "):
        at = window.rfind(sep)
        if at >= limit * 3 // 4:
            return at
    partial = _PARTIAL_ENTITY.search(window)
    return partial.start() if partial else limit


def trim(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: _cut_at(text, limit - 1)].rstrip() + "…"


def split(text: str, limit: int = TEXT_LIMIT, max_parts: int = ANSWER_PARTS) -> list[str]:
    """`text` in pieces of at most `limit` characters; what does not fit in `max_parts` is cut."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit and len(parts) < max_parts - 1:
        at = _cut_at(rest, limit) or limit
        parts.append(rest[:at].rstrip())
        rest = rest[at:].lstrip()
    parts.append(trim(rest, limit))
    return [p for p in parts if p]


def one_line(text: str) -> str:
    return " ".join(text.split())


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def _section(text: str) -> dict:
    return {"type": "section", "text": _mrkdwn(trim(text, TEXT_LIMIT))}


def _context(text: str, block_id: str | None = None) -> dict:
    block = {"type": "context", "elements": [_mrkdwn(trim(text, TEXT_LIMIT))]}
    return block | ({"block_id": block_id} if block_id else {})


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict:
    button = {"type": "button", "text": _plain(text), "action_id": action_id, "value": value}
    return button | ({"style": style} if style else {})


def web_url(public_url: str, question: str) -> str:
    """The web page with the question filled in, shortened to fit Slack's 3,000-character URL limit."""
    base = public_url.rstrip("/") + "/?q="
    while len(base) + len(quote(question)) > URL_LIMIT:
        question = question[: len(question) * 3 // 4]
    return base + quote(question)


def source_label(citation: Citation) -> str:
    """"Title · section · date" (the parts that are known), escaped for mrkdwn."""
    parts = [citation.title, citation.section if citation.section != citation.title else "", citation.valid_from]
    return " · ".join(escape(one_line(p)) for p in parts if p)


def _source_entry(citation: Citation) -> str:
    quote_text = trim(escape(one_line(citation.quote)), QUOTE_CHARS)
    return trim(f"*[{citation.n}]* {source_label(citation)}\n>{quote_text}", TEXT_LIMIT // 3)


def _packed(entries: list[str], room: int, head: str | None = None, limit: int = TEXT_LIMIT) -> tuple[list[str], int]:
    """(`head` and) `entries`, each within `limit`, one per line in as few texts of at most `limit`
    characters as they fit in, at most `room` texts; and how many entries that is."""
    texts = [head] if head else []
    for shown, entry in enumerate(entries):
        if texts and len(texts[-1]) + 1 + len(entry) <= limit:
            texts[-1] += "\n" + entry
        elif len(texts) < room:
            texts.append(entry)
        else:
            return texts, shown
    return texts, len(entries)


def sources_blocks(citations: list[Citation], room: int) -> list[dict]:
    """The "Kilder" section: one line per citation with a short quote, in as few sections as fit; when
    `room` blocks are not enough, the last block says how many more "Vis kilder" shows."""
    sections, shown = _packed([_source_entry(c) for c in citations], room - 1, head="*Kilder*")
    blocks = [_section(text) for text in sections]
    if (more := len(citations) - shown) > 0:
        blocks.append(_context(f"… og {more} kilder mere – tryk «Vis kilder» ({more} more sources)"))
    return blocks


def _warning_entries(warnings: list[SourceWarning]) -> list[str]:
    """One line per warning, grouped under the title of the source it is about; an unverified rule
    change is marked with its own icon (its message says why)."""
    by_source: dict[str, list[SourceWarning]] = {}
    for warning in warnings:
        by_source.setdefault(warning.doc_id, []).append(warning)
    entries = []
    for group in by_source.values():
        for i, warning in enumerate(group):
            icon = ":warning:" if warning.verified else ":grey_question:"
            line = trim(f"{icon} {escape(one_line(warning.message))}", TEXT_LIMIT // 3)
            entries.append(f"*{trim(escape(one_line(group[0].title)), 200)}*\n{line}" if i == 0 else line)
    return entries


def warnings_blocks(warnings: list[SourceWarning]) -> list[dict]:
    """Rule changes since a quoted source was written, as context blocks (none when there are none);
    past WARNING_BLOCKS the last line says how many more the web app shows."""
    texts, shown = _packed(_warning_entries(warnings), WARNING_BLOCKS, limit=TEXT_LIMIT - MORE_CHARS)
    if (more := len(warnings) - shown) > 0:
        texts[-1] += f"\n… og {more} advarsler mere – se webappen ({more} more warnings in the web app)"
    return [_context(text, f"{WARNINGS_ID}_{i}") for i, text in enumerate(texts)]


def _actions(answer: Answer, audit_id: int, public_url: str, shareable: bool, experts: bool) -> dict:
    value = str(audit_id)
    elements = [_button("👍 Nyttigt", FEEDBACK_UP, value), _button("👎 Ikke nyttigt", FEEDBACK_DOWN, value)]
    if answer.citations:
        elements.append(_button("Vis kilder", SHOW_SOURCES, value))
    if experts:
        elements.append(_button("Spørg en fagperson", ASK_EXPERT, value))
    elements.append({"type": "button", "text": _plain("Åbn i webappen"), "action_id": OPEN_WEB,
                     "url": web_url(public_url, answer.question)})
    if shareable:
        elements.append(_button("Del i kanalen", SHARE, value, style="primary"))
    return {"type": "actions", "block_id": "praktikbot_actions", "elements": elements}


def answer_blocks(answer: Answer, audit_id: int, public_url: str, *, asker: str | None = None,
                  shareable: bool = False, experts: bool = False) -> list[dict]:
    """The message for an answer: (who asked what,) the answer with its [n], the rule changes since its
    sources were written, "Kilder", the buttons ("Spørg en fagperson" when there is an experts' channel).
    An abstention keeps only its text and the buttons: it has no sources to show."""
    blocks: list[dict] = []
    if asker:
        blocks.append(_context(f"<@{asker}> spurgte: _{trim(escape(one_line(answer.question)), 500)}_"))
    blocks += [_section(part) for part in split(escape(answer.answer))]
    if not answer.abstained:
        blocks += warnings_blocks(answer.warnings)
    if answer.low_confidence and not answer.abstained:
        blocks.append(_context(f":warning: *Usikkert svar* (sikkerhed {round(answer.confidence * 100)} %) – kontrollér "
                               "citaterne, før du bruger svaret. (Uncertain answer: check the quotes.)"))
    if answer.citations and not answer.abstained:
        see_also = see_also_block(answer)
        blocks += sources_blocks(answer.citations, room=MESSAGE_BLOCKS - len(blocks) - 1 - bool(see_also))
        blocks += [see_also] if see_also else []
    blocks.append(_actions(answer, audit_id, public_url, shareable, experts))
    return blocks


def see_also_block(answer: Answer) -> dict | None:
    """Passages that say the same as a quote, listed under "Se også" instead of quoted twice."""
    if not answer.see_also:
        return None
    names = "; ".join(f"{escape(one_line(s.title))} · {escape(one_line(s.section))}" for s in answer.see_also)
    return _context(trim(f"*Se også:* {names}", TEXT_LIMIT))


def notification_text(answer: Answer) -> str:
    """The message's `text`: what notifications show, and what a thread's history is read back from."""
    return trim(escape(answer.answer), TEXT_LIMIT)


def _grouped(citations: Iterable[Citation]) -> list[list[Citation]]:
    """Citations quoting the same passage, together (in order of first use), so it is shown once."""
    groups: dict[str, list[Citation]] = {}
    for citation in citations:
        groups.setdefault(citation.chunk_id, []).append(citation)
    return list(groups.values())


def sources_view(answer: Answer) -> dict:
    """The "Vis kilder" modal: each cited passage in full (as far as Slack's limits allow)."""
    blocks: list[dict] = []
    for group in _grouped(answer.citations):
        first = group[0]
        markers = " ".join(f"[{c.n}]" for c in group)
        passage = [{"type": "section", "text": _plain(part)}
                   for part in split(first.passage, TEXT_LIMIT, PASSAGE_PARTS)]
        group_blocks = [_section(f"*{markers}* {source_label(first)}"),
                        _context(f"`{escape(first.source)}`"), *passage, {"type": "divider"}]
        if len(blocks) + len(group_blocks) > MODAL_BLOCKS - 1:
            blocks.append(_context("Flere kilder findes i webappen (more sources in the web app)."))
            break
        blocks += group_blocks
    return {"type": "modal", "title": _plain("Kilder"), "close": _plain("Luk"), "blocks": blocks}
