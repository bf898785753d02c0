"""What a user wrote in Slack, as the text they saw, and whether it asks the bot something.

Slack sends a message's text escaped (`&amp; &lt; &gt;`) and with its own markup for mentions, channels,
links and special commands (`<@U…>`, `<#C…|name>`, `<https://…|label>`, `<!here>`). The question that is
answered and audited is the readable text, so "A &amp; B" is asked as "A & B"."""

from __future__ import annotations

import re
from typing import Literal

from bot.slack.blocks import unescape

ThreadReplies = Literal["questions", "all", "mentions"]

# user text never holds a bare < or > (Slack escapes them), so every <…> is markup
_MARKUP = re.compile(r"<([^<>]*)>")
_BROADCASTS = {"!here", "!channel", "!everyone"}
_SPACES = re.compile(r"[^\S\n]+")
_EMOJI = re.compile(r":[a-z0-9_+'-]+:")  # Slack sends emoji as :shortcodes:
_WORD = re.compile(r"\w+")
_ASKS = re.compile(r"\?(\s|$)")  # a question mark that ends a sentence, not one inside a URL
# a question may start with these words without a question mark (yes/no questions start with the verb)
_QUESTION_WORDS = frozenset({
    "hvad", "hvem", "hvornår", "hvor", "hvordan", "hvorfor", "hvorvidt", "hvorledes", "hvilke",
    "hvilken", "hvilket", "kan", "kunne", "må", "måtte", "skal", "skulle", "bør", "burde", "vil", "ville",
    "er", "var", "har", "havde", "gælder", "findes", "får",
    "what", "who", "whom", "whose", "when", "where", "how", "why", "which", "can", "could", "may", "might",
    "must", "shall", "should", "will", "would", "is", "are", "was", "were", "do", "does", "did", "has",
    "have", "had",
})
_LEADING = frozenset({"og", "men", "så", "også", "and", "but", "so", "also"})  # "og hvad med …"
_CLOSING_WORDS = frozenset({
    "tak", "tusind", "mange", "for", "det", "hjælpen", "svaret", "ok", "okay", "super", "fedt", "perfekt",
    "godt", "fint", "thanks", "thank", "you", "thx", "ty", "the", "help", "great", "cool", "nice",
})


def plain_text(text: str, bot_user_id: str | None) -> str:
    """The text as the user saw it: markup made readable (the bot's own mention dropped, another user as
    @name or @id, #channel, a link's label or its URL, @here and the like removed) and unescaped."""

    def readable(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            return "" if target[1:] == bot_user_id else "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):  # @here, @channel; a user group or a date shows its label
            return "" if target in _BROADCASTS else label
        return label or target

    return _SPACES.sub(" ", unescape(_MARKUP.sub(readable, text))).strip()


def mentions(text: str, user_id: str | None) -> bool:
    """Whether Slack's text (still with its markup) mentions `user_id`."""
    return bool(user_id) and re.search(rf"<@{re.escape(user_id)}(\|[^>]*)?>", text) is not None


def is_closing(text: str) -> bool:
    """Thanks, "ok" or only emoji: the end of a conversation, nothing to look up."""
    return all(word in _CLOSING_WORDS for word in _WORD.findall(_EMOJI.sub(" ", text.lower())))


def is_question(text: str) -> bool:
    """A sentence ending in "?", or text starting with a Danish or English question word."""
    if _ASKS.search(text):
        return True
    words = _WORD.findall(text.lower())
    while words and words[0] in _LEADING:
        words.pop(0)
    return bool(words) and words[0] in _QUESTION_WORDS


def wants_answer(text: str, replies: ThreadReplies) -> bool:
    """Whether a message without a mention, in a conversation the bot takes part in, gets an answer.
    With "mentions", none does: a message that mentions the bot arrives as its own app_mention event."""
    if is_closing(text):
        return False
    return replies == "all" or (replies == "questions" and is_question(text))
