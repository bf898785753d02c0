"""Sources in time in Slack: rule changes since a quoted source was written show under the answer, in a
context block before the sources, within Slack's limits; an answer without them shows none."""

from __future__ import annotations

from bot.models import SourceWarning
from bot.slack.blocks import MESSAGE_BLOCKS, TEXT_LIMIT, WARNINGS_ID, answer_blocks, escape
from tests import test_slack_app as slack_app
from tests.test_slack_app import SEED_TITLE, FakeSlack, channel, mention, replies_in, send_event, sources_text
from tests.test_slack_blocks import PUBLIC_URL, answer, citation, texts_in

KLV_WHY = "Hvorfor validerer forvaltningen ikke KLV-listerne?"
ACT_2020 = "lov nr. 548 af 7/5 2019"

# The Slack app's fixtures: a fake Slack Web API, and the bot over the demo corpus served against it.
fake, runtime, web = slack_app.fake, slack_app.runtime, slack_app.web


def warning_texts(blocks: list[dict]) -> list[str]:
    return [e["text"] for b in blocks if b.get("block_id", "").startswith(WARNINGS_ID) for e in b["elements"]]


def ask_by_mention(web: str, fake: FakeSlack, question: str) -> list[dict]:
    chan = channel()
    send_event(web, mention(fake, chan, question))
    return replies_in(fake, chan)[0]["blocks"]


def test_a_mention_about_klv_validation_warns_of_the_2020_act_between_answer_and_sources(web: str, fake: FakeSlack):
    blocks = ask_by_mention(web, fake, KLV_WHY)
    warned = [i for i, b in enumerate(blocks) if b.get("block_id", "").startswith(WARNINGS_ID)]
    assert warned and all(blocks[i]["type"] == "context" for i in warned)
    text = "\n".join(warning_texts(blocks))
    assert ACT_2020 in text and "Kilden er fra 2019" in text
    assert SEED_TITLE in text, "names the source the warning is about"
    answer_at = next(i for i, b in enumerate(blocks) if "[1]" in b.get("text", {}).get("text", ""))
    sources_at = next(i for i, b in enumerate(blocks) if b.get("text", {}).get("text", "").startswith("*Kilder*"))
    assert answer_at < warned[0] and warned[-1] < sources_at


def test_the_same_question_as_of_mid_2019_has_no_warnings(web: str, fake: FakeSlack):
    blocks = ask_by_mention(web, fake, "Hvorfor validerede forvaltningen ikke KLV-listerne pr. 1.6.2019?")
    assert blocks[0]["text"]["text"].startswith("Svaret gælder reglerne pr. 1. juni 2019.")
    assert SEED_TITLE in sources_text(blocks)
    assert not warning_texts(blocks)
    assert ACT_2020 not in str(blocks)


def _warning(n: int, verified: bool = True, message: str | None = None) -> SourceWarning:
    return SourceWarning(source=f"s{n % 3}.md", title=f"Kilde <{n % 3}>", doc_id=f"d{n % 3}", source_date="2019",
                         date="2020-01-01", act=f"lov nr. {n}", summary="Ny lov.", verified=verified,
                         message=message or f"Kilden er fra 2019. Reglerne blev ændret (lov nr. {n}) – kontrollér.")


def test_unverified_changes_are_marked_and_texts_are_escaped():
    shown = answer()
    shown.warnings = [_warning(1), _warning(2, verified=False, message="Ændret <!channel> & mere. Bemærk: ikke "
                                                                        "verificeret.")]
    text = "\n".join(warning_texts(answer_blocks(shown, 1, PUBLIC_URL)))
    verified, unverified = (line for line in text.splitlines() if "lov nr. 1" in line or "mere" in line)
    assert verified.startswith(":warning:") and unverified.startswith(":grey_question:")
    assert escape("<!channel> & mere") in unverified and "<!channel>" not in text
    assert "*Kilde &lt;1&gt;*" in text and "*Kilde &lt;2&gt;*" in text


def test_many_long_warnings_stay_within_slacks_limits_and_say_how_many_more():
    shown = answer(citations=[citation(n) for n in range(1, 60)])
    shown.warnings = [_warning(n, message="x " * 2000 + f"lov nr. {n}") for n in range(200)]
    blocks = answer_blocks(shown, 1, PUBLIC_URL)
    assert len(blocks) <= MESSAGE_BLOCKS
    context = [b for b in blocks if b.get("block_id", "").startswith(WARNINGS_ID)]
    assert context and all(len(b["elements"]) <= 10 for b in context)
    assert all(len(text) <= TEXT_LIMIT for text in texts_in(blocks))
    lines = sum(t.count(":warning:") for t in warning_texts(blocks))
    assert 0 < lines < 200 and f"… og {200 - lines} advarsler mere" in warning_texts(blocks)[-1]
    assert len({b["block_id"] for b in blocks if "block_id" in b}) == len([b for b in blocks if "block_id" in b])


def test_an_abstention_shows_no_warnings():
    shown = answer(text="Det kan jeg ikke svare på ud fra kilderne.", citations=[])
    shown.abstained, shown.warnings = True, [_warning(1)]
    assert not warning_texts(answer_blocks(shown, 1, PUBLIC_URL))
