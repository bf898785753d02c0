"""What the Slack bot reads from Slack's real traffic, without Slack: the text as the user saw it, which
messages ask something, the per-user rate limit and the claim on an event across replicas. The same
behaviour end to end, through the bolt app and a fake Slack, is in test_slack_app.py."""

from __future__ import annotations

import itertools
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

from bot.ratelimit import WINDOW_SECONDS
from bot.slack.incoming import is_closing, is_question, mentions, plain_text, wants_answer
from bot.slack.ratelimit import RateLimit, Verdict
from bot.slack.seen import KEEP_SECONDS, SeenEvents

BOT = "U0BOT"


@pytest.mark.parametrize("slack_text, seen", [
    ("A &amp; B", "A & B"),
    ("Er 3 &lt; 5 &amp;&amp; 7 &gt; 2?", "Er 3 < 5 && 7 > 2?"),
    ("&amp;lt; er ikke &lt;", "&lt; er ikke <"),  # escaped once by the user, once by Slack
    (f"<@{BOT}> Hvad er KLV-listen?", "Hvad er KLV-listen?"),
    (f"<@{BOT}|praktikbot> hvad er KLV?", "hvad er KLV?"),
    ("Spørg <@U0ANNA> eller <@U0BO|bo>", "Spørg @U0ANNA eller @bo"),
    ("Se <#C0PRAKTIK|praktik> og <#C0ANDEN|>", "Se #praktik og #C0ANDEN"),
    ("Læs <https://kk.dk/klv?a=1&amp;b=2|KLV &amp; RAR> først", "Læs KLV & RAR først"),
    ("Læs <https://kk.dk/klv?a=1&amp;b=2>", "Læs https://kk.dk/klv?a=1&b=2"),
    ("Skriv til <mailto:team@kk.dk|team@kk.dk>", "Skriv til team@kk.dk"),
    ("<!here> <!channel> <!everyone|everyone> Hvem godkender?", "Hvem godkender?"),
    ("Spørg <!subteam^S0TEAM|@jobteam> om <!date^1392734382^{date}|18. feb 2014>",
     "Spørg @jobteam om 18. feb 2014"),
    ("Første linje\nanden   linje ", "Første linje\nanden linje"),
])
def test_slack_markup_reads_as_the_user_saw_it(slack_text: str, seen: str):
    assert plain_text(slack_text, BOT) == seen


def test_only_the_bots_own_mention_counts_as_one():
    assert mentions(f"hej <@{BOT}> og <@U0ANNA>", BOT) and mentions(f"<@{BOT}|praktikbot> hej", BOT)
    assert not mentions("hej <@U0ANNA>", BOT) and not mentions(f"<@{BOT}X>", BOT) and not mentions("hej", None)


@pytest.mark.parametrize("text", [
    "tak!", "Tak", "Tusind tak :pray:", "mange tak for hjælpen 🙏", "thanks", "Thank you!", "ok 👍", ":+1:", "",
])
def test_thanks_end_a_conversation(text: str):
    assert is_closing(text)
    assert not any(wants_answer(text, replies) for replies in ("questions", "all", "mentions"))


@pytest.mark.parametrize("text", [
    "og hvorfor?", "Gælder det også i 2024 ?", "hvad med ledighedsydelse", "Hvornår starter praktikken",
    "Hvilke borgere kan komme i praktik", "og hvordan gør man så", "Kan en praktik forlænges",
    "Må virksomheden betale løn", "Er KLV-listen offentlig", "what about the KLV list", "Does it apply to me",
    "tak, men hvad med RAR?",
])
def test_questions_in_a_thread_are_answered(text: str):
    assert is_question(text) and wants_answer(text, "questions") and wants_answer(text, "all")
    assert not wants_answer(text, "mentions")  # a mention arrives as its own app_mention event


@pytest.mark.parametrize("text", [
    "Jeg ringer til jobcentret i morgen.", "Det lyder fornuftigt", "Se https://kk.dk/klv?side=2",
    "Godt at vide, KLV-listen ligger på intranettet",
])
def test_remarks_in_a_thread_are_answered_only_when_configured(text: str):
    assert not is_question(text) and not wants_answer(text, "questions")
    assert wants_answer(text, "all")


def test_the_rate_limit_is_per_user_tells_once_and_frees_up_after_a_minute():
    now = itertools.count()  # one second per question
    limit = RateLimit(3, clock=lambda: float(next(now)))
    assert [limit.check("U1") for _ in range(3)] == [Verdict.ALLOW] * 3
    assert limit.check("U1") is Verdict.REFUSE
    assert limit.check("U1") is Verdict.REFUSE_QUIETLY
    assert limit.check("U2") is Verdict.ALLOW  # another user is not held up
    clock = iter([WINDOW_SECONDS + 0.5, WINDOW_SECONDS + 1, WINDOW_SECONDS + 1.5, WINDOW_SECONDS + 1.75])
    limit.clock = lambda: next(clock)
    # the first question (t=0) has left the window, the second (t=1) only at the second check
    assert limit.check("U1") is Verdict.ALLOW
    assert limit.check("U1") is Verdict.ALLOW
    assert limit.check("U1") is Verdict.REFUSE  # told again: an answer came between
    assert limit.check("U1") is Verdict.REFUSE_QUIETLY


def test_of_many_deliveries_to_several_replicas_exactly_one_claims_an_event(tmp_path: Path):
    database = tmp_path / "praktikbot.sqlite3"
    replicas = [SeenEvents(database) for _ in range(4)]
    deliveries = [(replica, f"Ev{n}") for n in range(25) for replica in replicas for _ in range(2)]
    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda d: (d[1], d[0].claim(d[1])), deliveries))
    claimed = [event_id for event_id, first in claims if first]
    assert sorted(claimed) == sorted(f"Ev{n}" for n in range(25))


def test_event_ids_are_forgotten_after_a_day(tmp_path: Path):
    seen = SeenEvents(tmp_path / "praktikbot.sqlite3")
    assert seen.claim("EvOld", now=1000.0) and not seen.claim("EvOld", now=1001.0)
    assert seen.claim("EvNew", now=1000.0 + KEEP_SECONDS + 1)
    with closing(sqlite3.connect(seen.path)) as db:
        kept = [row[0] for row in db.execute("SELECT event_id FROM slack_events")]
    assert kept == ["EvNew"]
