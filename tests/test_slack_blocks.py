"""Answer → Block Kit: markers, sources, buttons, abstention, and Slack's limits on any input."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from bot.models import Answer, Citation
from bot.slack import texts
from bot.slack.blocks import (
    MESSAGE_BLOCKS,
    MODAL_BLOCKS,
    QUOTE_CHARS,
    TEXT_LIMIT,
    URL_LIMIT,
    answer_blocks,
    escape,
    notification_text,
    sources_view,
    split,
    trim,
)

PUBLIC_URL = "https://praktikbot.example/"
SEED_TITLE = "Svar på henvendelse om virksomhedspraktik"


def citation(n: int, quote: str = "Forvaltningen har besluttet ikke at gennemføre valideringen af KLV-listen.",
             passage: str | None = None, chunk: str | None = None) -> Citation:
    return Citation(n=n, source="inquiry-answers/svar-paa-henvendelse-om-virksomhedspraktik-2019.txt",
                    title=SEED_TITLE, section="Spørgsmål 2", quote=quote, passage=passage or f"Spørgsmål 2\n{quote}",
                    score=0.9, doc_id="d1", chunk_id=chunk or f"c{n}", valid_from="2019", quote_start=0,
                    quote_end=len(quote))


def answer(text: str = "Forvaltningen validerer ikke KLV-listen [1].", citations: list[Citation] | None = None,
           question: str = "Bruger forvaltningen KLV-listerne fra RAR?") -> Answer:
    return Answer(question=question, language="da", answer=text, abstained=False, generator="extractive",
                  citations=[citation(1)] if citations is None else citations)


def texts_in(node: object) -> list[str]:
    """Every text object's text in a Block Kit structure."""
    if isinstance(node, list):
        return [t for item in node for t in texts_in(item)]
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") in ("mrkdwn", "plain_text") else []
        return own + [t for value in node.values() if isinstance(value, dict | list) for t in texts_in(value)]
    return []


def actions(blocks: list[dict]) -> dict[str, dict]:
    return {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def test_answer_with_markers_sources_and_buttons():
    blocks = answer_blocks(answer(), 42, PUBLIC_URL)
    assert "[1]" in blocks[0]["text"]["text"]
    sources = [b for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("*Kilder*")]
    assert len(sources) == 1
    listing = sources[0]["text"]["text"]
    assert f"*[1]* {SEED_TITLE} · Spørgsmål 2 · 2019" in listing
    assert ">Forvaltningen har besluttet" in listing
    buttons = actions(blocks)
    assert set(buttons) == {"feedback_up", "feedback_down", "show_sources", "open_web"}
    assert buttons["feedback_up"]["value"] == buttons["show_sources"]["value"] == "42"
    url = urlparse(buttons["open_web"]["url"])
    assert url.netloc == "praktikbot.example" and parse_qs(url.query)["q"] == [answer().question]


def test_shareable_answer_names_the_asker_and_has_a_share_button():
    blocks = answer_blocks(answer(), 7, PUBLIC_URL, asker="U123", shareable=True)
    assert blocks[0]["type"] == "context" and "<@U123> spurgte" in blocks[0]["elements"][0]["text"]
    share = actions(blocks)["share"]
    assert share["text"]["text"] == "Del i kanalen" and share["value"] == "7"


def test_abstention_shows_no_sources():
    abstained = Answer(question="Hvad koster en pizza på Mars?", language="da", abstained=True,
                       generator="extractive", answer="Kilderne besvarer ikke dette spørgsmål. Prøv at omformulere.")
    blocks = answer_blocks(abstained, 3, PUBLIC_URL)
    assert not any(t.startswith("*Kilder*") for t in texts_in(blocks))
    assert "show_sources" not in actions(blocks)
    assert "omformulere" in blocks[0]["text"]["text"]


def test_mrkdwn_is_escaped_and_never_cut_inside_an_entity():
    blocks = answer_blocks(answer(text="Brug <KLV> & tjek [1]."), 1, PUBLIC_URL)
    assert blocks[0]["text"]["text"] == "Brug &lt;KLV&gt; &amp; tjek [1]."
    cut = trim("x" * 10 + "&amp;" * 5, 14)
    assert cut.endswith("…") and not cut[:-1].endswith(("&", "&a", "&am", "&amp"))


def test_huge_texts_stay_within_slack_limits():
    huge = "Forvaltningen har besluttet ikke at validere KLV-listen. " * 180  # over 10,000 characters
    many = [citation(n, quote=huge, passage=huge * 2) for n in range(1, 501)]  # more than 50 blocks hold
    big = answer(text=huge + " [1]", citations=many, question="Hvorfor? " * 220)
    for blocks, max_blocks in ((answer_blocks(big, 1, PUBLIC_URL, asker="U1", shareable=True), MESSAGE_BLOCKS),
                               (sources_view(big)["blocks"], MODAL_BLOCKS)):
        assert len(blocks) <= max_blocks
        assert all(len(t) <= TEXT_LIMIT for t in texts_in(blocks))
    message = answer_blocks(big, 1, PUBLIC_URL)
    assert any(t.startswith("… og ") and "Vis kilder" in t for t in texts_in(message))
    assert all(len(e.get("url", "")) <= URL_LIMIT and len(e.get("value", "")) <= 2000
               for e in actions(message).values())
    assert len(notification_text(big)) <= TEXT_LIMIT
    assert max(len(t) for t in texts_in(sources_view(big))) <= TEXT_LIMIT


def test_quotes_are_short_in_the_message_and_passages_full_in_the_modal():
    long_quote = "Valideringen er meget ressourcekrævende. " * 20
    one = answer(citations=[citation(1, quote=long_quote, passage="Spørgsmål 2\n" + long_quote)])
    listing = next(t for t in texts_in(answer_blocks(one, 1, PUBLIC_URL)) if t.startswith("*Kilder*"))
    assert len(listing.split("\n>", 1)[1]) <= QUOTE_CHARS
    assert long_quote.strip() in "".join(texts_in(sources_view(one)))


def test_modal_shows_a_passage_quoted_twice_once():
    shared = citation(1, chunk="same"), citation(2, quote="Det er derfor ikke muligt.", chunk="same")
    view = sources_view(answer(text="A [1]. B [2].", citations=list(shared)))
    assert view["title"]["text"] == "Kilder"
    headings = [t for t in texts_in(view["blocks"]) if t.startswith("*[")]
    assert headings == [f"*[1] [2]* {SEED_TITLE} · Spørgsmål 2 · 2019"]


def test_split_keeps_everything_that_fits():
    text = " ".join(f"ord{i}" for i in range(2000))
    parts = split(text, 3000, 5)
    assert all(len(p) <= 3000 for p in parts) and " ".join(parts) == text


def test_ingest_report_text():
    report = {"added": ["a.md"], "updated": [], "removed": ["b.md"], "unchanged": ["c.md", "d.md"],
              "failed": [{"path": "e.pdf", "error": "ingen tekst"}], "documents": 4, "chunks": 30, "seconds": 2.5}
    text = texts.ingest_report(report)
    assert "1 tilføjet, 0 opdateret, 1 fjernet, 2 uændret, 1 fejlet" in text
    assert "4 dokumenter og 30 tekstafsnit" in text and "`e.pdf`: ingen tekst" in text
    assert "2.5 s" in text


def test_escape():
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_a_low_confidence_answer_says_so_and_a_confident_one_does_not():
    uncertain = answer().model_copy(update={"confidence": 0.61, "low_confidence": True})
    marked = [t for t in texts_in(answer_blocks(uncertain, 1, PUBLIC_URL)) if "Usikkert svar" in t]
    assert marked and "61 %" in marked[0]
    sure = answer().model_copy(update={"confidence": 0.97, "low_confidence": False})
    assert not any("Usikkert" in t for t in texts_in(answer_blocks(sure, 1, PUBLIC_URL)))


def test_see_also_lists_the_passage_that_says_the_same_without_quoting_it():
    from bot.models import SeeAlso

    other = SeeAlso(source="procedures/procedure-klv-lister.md", title="Procedure for KLV-lister",
                    section="Beslutningen", doc_id="d2", chunk_id="c9")
    blocks = answer_blocks(answer().model_copy(update={"see_also": [other]}), 1, PUBLIC_URL)
    listed = [t for t in texts_in(blocks) if t.startswith("*Se også:*")]
    assert listed == ["*Se også:* Procedure for KLV-lister · Beslutningen"]


def test_the_ingest_report_in_slack_names_personal_data_by_kind_never_the_data():
    report = {"seconds": 1.0, "added": ["procedures/notat.md"], "documents": 1, "chunks": 1, "failed": [],
              "warnings": [{"path": "procedures/notat.md", "kind": "cpr-nummer", "count": 1, "masked": True}]}
    text = texts.ingest_report(report)
    assert "procedures/notat.md" in text and "1 × cpr-nummer, maskeret" in text
