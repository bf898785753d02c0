"""People in the loop on the web page, in headless Chromium: the inquiry team edits a draft's answers, saves,
approves (by role) and saves the approved letter as a source that answers its questions from then on; the
admins' "Opfølgning" tab shows escalations, the gaps in the knowledge, 👎 answers with comments, the figures,
and each entry's answer from the audit log."""

from __future__ import annotations

import io

from docx import Document

from bot.draft import PLACEHOLDER
from tests import test_web_e2e as e2e
from tests.test_web_e2e import PHONE, TOKEN, ask, shot, squash

# The browser tests' fixtures (one Chromium per module, a page per test, the app served by uvicorn) and skip.
browser, page, serve, pytestmark = e2e.browser, e2e.page, e2e.serve, e2e.pytestmark

CANTEEN = "Hvornår holder jobcentrets kantine åbent for praktikanter?"  # the sources don't know
KLV = "Bruger forvaltningen KLV-listerne fra RAR?"
INQUIRY = f"Kære forvaltning\n\n1. {CANTEEN}\n2. {KLV}\n\nMed venlig hilsen\nJens Hansen\nNørregade 1, 1165 Kbh. K\n"
TEAM_ANSWER = "Kantinen i jobcentret har åbent for praktikanter fra kl. 11 til 13 på hverdage."
ROLE = "fuldmægtig"
WEATHER = ("Hvordan bliver vejret i morgen?", "Hvad siger vejrudsigten for i morgen?")  # one gap, two wordings
COMMENT = "Mangler årstallet"
EXPERT_REPLY = "Ja, men kun som inspiration til jobsøgningen."


def _log_in(page) -> None:
    page.get_by_role("tab", name="Admin").click()
    page.get_by_label("Admin-token").fill(TOKEN)
    page.get_by_role("button", name="Log ind").click()
    page.locator("#admin-area").wait_for()


def _fits(page, what: str) -> None:
    """Nothing scrolls sideways at 360 px: not the page, and not the tab bar (every tab is in view)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{what} scrolls sideways at 360 px ({width} px)"
    tabs = page.locator(".tabs").evaluate("nav => nav.scrollWidth - nav.clientWidth")
    assert tabs <= 0, f"the tab bar hides {tabs} px of its tabs at 360 px"


def test_an_edited_draft_is_approved_by_role_and_saved_as_a_cited_source(serve, page, make_index):
    url, runtime = serve(make_index(admin_token=TOKEN))
    page.goto(url)
    page.get_by_role("tab", name="Udkast til svar").click()
    page.get_by_label("Henvendelse (indsæt e-mail eller brev)").fill(INQUIRY)
    page.get_by_role("button", name="Lav udkast").click()
    letter = page.locator("#letter")
    letter.get_by_text(PLACEHOLDER).wait_for()

    unanswered = page.get_by_label("Forvaltningens svar på spørgsmål 1")
    answered = page.get_by_label("Forvaltningens svar på spørgsmål 2")
    assert unanswered.input_value() == ""  # nothing found: the letter has the placeholder, the field is empty
    bot_text = answered.input_value()  # the letter's quoted answer, to edit
    assert "ikke at gennemføre valideringen" in bot_text and squash(bot_text) in squash(letter.inner_text())

    answered.fill("Et andet svar")  # emptied again, the bot's answer comes back
    answered.fill("")
    unanswered.fill(TEAM_ANSWER)
    assert page.get_by_role("note").filter(has_text="rettelser, der ikke er gemt").is_visible()
    assert page.get_by_role("button", name="Kopiér som tekst").is_disabled()  # the preview is not laid out yet
    page.get_by_role("button", name="Gem udkast").click()
    page.get_by_text("Udkastet er gemt.").wait_for()
    record = page.locator("#draft-record").inner_text()
    draft_id = runtime.records.drafts()[0]["id"]
    assert f"Gemt udkast {draft_id}: udkast" in record
    text = letter.inner_text()
    assert TEAM_ANSWER in text and PLACEHOLDER not in text and squash(bot_text) in squash(text)
    assert answered.input_value() == bot_text

    with page.expect_download() as download:
        page.get_by_role("button", name="Hent .docx").click()
    paragraphs = [p.text for p in Document(io.BytesIO(download.value.path().read_bytes())).paragraphs]
    assert TEAM_ANSWER in paragraphs and PLACEHOLDER not in paragraphs

    page.get_by_role("button", name="Godkend").click()  # not logged in: says where to log in, asks nothing
    page.get_by_text("Godkendelse og kilder kræver admin-token").wait_for()
    assert not page.locator("#approve-dialog").is_visible()
    _log_in(page)
    page.get_by_role("tab", name="Udkast til svar").click()
    page.get_by_role("button", name="Godkend").click()
    dialog = page.get_by_role("dialog", name="Godkend udkastet")
    assert "aldrig dit navn" in dialog.inner_text()
    dialog.get_by_label("Din rolle (stillingsbetegnelse)").fill(ROLE)
    dialog.get_by_role("button", name="Godkend").click()
    page.get_by_text(f"Udkastet er godkendt af {ROLE}.").wait_for()
    assert f"godkendt af {ROLE}" in page.locator("#draft-record").inner_text()

    page.get_by_role("button", name="Gem som kilde").click()
    done = page.get_by_role("status").filter(has_text="Gemt som kilde: inquiry-answers/godkendt-svar-")
    done.wait_for(timeout=120_000)  # the job wrote and ingested it
    row = page.locator("#saved-draft-list tbody tr", has_text=draft_id)
    row.get_by_text("inquiry-answers/godkendt-svar-").wait_for()
    assert f"godkendt af {ROLE}" in row.inner_text()
    shot(page, "loop-draft-approved")

    page.set_viewport_size(PHONE)
    _fits(page, "the draft tab with a saved draft")
    shot(page, "loop-draft-360px")
    page.set_viewport_size(e2e.DESKTOP)

    page.reload()  # a saved draft opens from the list, with its edits
    page.get_by_role("tab", name="Udkast til svar").click()
    page.locator("#saved-draft-list tbody tr", has_text=draft_id).get_by_role("button", name="Åbn").click()
    assert page.get_by_label("Forvaltningens svar på spørgsmål 1").input_value() == TEAM_ANSWER
    assert TEAM_ANSWER in letter.inner_text()

    page.get_by_role("tab", name="Spørg").click()
    turn = ask(page, CANTEEN)
    assert "kl. 11 til 13" in turn.locator(".answer-text").inner_text()
    assert "inquiry-answers/godkendt-svar-" in turn.locator(".sources").inner_text()


def test_follow_up_tab_shows_escalations_gaps_doubted_answers_and_their_audit_records(serve, page, make_index):
    url, runtime = serve(make_index(admin_token=TOKEN))
    page.goto(url)
    declined = [ask(page, question) for question in WEATHER]
    assert all("abstained" in turn.get_attribute("class") for turn in declined)
    doubted = ask(page, KLV)
    doubted.get_by_role("button", name="Dårligt svar").click()
    doubted.get_by_label("Hvad var galt? (valgfrit)").fill(COMMENT)
    doubted.get_by_role("button", name="Send kommentar").click()
    doubted.get_by_text("Tak – kommentaren er sendt.").wait_for()

    # escalations come from Slack; here they are recorded as the Slack app records them
    klv_row, weather_row = runtime.records.recent_audit(2)
    klv_audit, weather_audit = klv_row["id"], weather_row["id"]
    runtime.records.escalate(weather_audit, WEATHER[1], "declined", "UASKER", "CSTAFF", "1.1")
    answered = runtime.records.escalate(klv_audit, KLV, "doubted", "UASKER", "CSTAFF", "2.1")
    runtime.records.expert_replied(answered, EXPERT_REPLY, "UEXPERT", runtime.settings.masking)

    page.get_by_role("tab", name="Opfølgning").click()
    page.get_by_text("Opfølgning kræver admin-token").wait_for()
    page.get_by_role("button", name="Gå til Admin").click()
    page.get_by_label("Admin-token").fill(TOKEN)
    page.get_by_role("button", name="Log ind").click()
    page.locator("#admin-area").wait_for()
    page.get_by_role("tab", name="Opfølgning").click()

    escalations = page.locator("#escalations")
    escalations.get_by_text(EXPERT_REPLY).wait_for()
    groups = escalations.locator("h3").all_inner_texts()
    assert groups == ["Åbne (1)", "Besvarede (1)"]  # open ones first
    assert WEATHER[1] in escalations.locator("ol").first.inner_text()
    assert "Botten kunne ikke svare" in escalations.locator("ol").first.inner_text()

    gap = page.locator("#gaps > li").first
    assert f"Afvist {len(WEATHER)} gange" in gap.inner_text()
    assert sorted(gap.locator(".examples li").all_inner_texts()) == sorted(WEATHER)

    entry = page.locator("#doubted > li", has_text=KLV)
    assert entry.locator("blockquote").all_inner_texts() == [COMMENT]  # the 👎 and its comment: one entry

    answers, refused = runtime.records.answer_counts()
    metrics = page.locator("#followup-metrics")
    assert f"({refused} af {answers} svar)" in metrics.inner_text()
    for label, value in (("Sendt til en fagperson", "2"), ("Åbne", "1")):
        assert metrics.locator(".metric", has=page.locator("dt", has_text=label)).locator("dd").inner_text() == value
    shot(page, "loop-followup")

    entry.get_by_role("link", name=f"Vis svar #{klv_audit} fra revisionsloggen").click()
    audit = page.get_by_role("dialog", name=f"Svar #{klv_audit} fra revisionsloggen")
    audit.wait_for()
    stored = runtime.records.answer(klv_audit)
    assert KLV in audit.inner_text() and stored.citations[0].title in audit.inner_text()
    page.keyboard.press("Escape")
    audit.wait_for(state="hidden")

    page.set_viewport_size(PHONE)
    _fits(page, "the follow-up tab")
    shot(page, "loop-followup-360px")
