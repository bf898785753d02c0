"""End to end in headless Chromium (Debian's, driven by Playwright): the three tabs as a user works
them, on a real server over a real index. Screenshots go to tests/artifacts/ (ignored by git)."""

from __future__ import annotations

import io
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import uvicorn
from docx import Document

from bot.draft import PLACEHOLDER
from bot.runtime import Runtime
from bot.settings import Settings
from bot.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
TOKEN = "e2e-admin-token"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium at /usr/bin/chromium (`make test` installs it)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def serve() -> Iterator[Callable[[Settings], tuple[str, Runtime]]]:
    """Start `praktikbot serve`'s app with uvicorn in a thread; returns the base URL and the runtime."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(settings: Settings) -> tuple[str, Runtime]:
        runtime = Runtime(settings)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server did not start")
            threading.Event().wait(0.05)
        return f"http://127.0.0.1:{port}", runtime

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def squash(text: str) -> str:
    return " ".join(text.split())


def ask(page, question: str):
    """Ask on the Spørg tab; returns the newest answer card once it is shown."""
    page.get_by_label("Dit spørgsmål").fill(question)
    count = page.locator("#conversation .turn").count()
    page.get_by_role("button", name="Spørg", exact=True).click()
    page.locator("#conversation .turn").nth(count).wait_for()
    return page.locator("#conversation .turn").nth(count)


def test_ask_open_a_citation_and_give_feedback(serve, page, shared_index):
    url, runtime = serve(shared_index)
    page.goto(url)
    turn = ask(page, "Bruger forvaltningen KLV-listerne fra RAR?")
    assert "ikke at gennemføre valideringen" in turn.locator(".answer-text").inner_text()
    first_source = turn.locator(".sources li").first
    assert "Svar på henvendelse om virksomhedspraktik" in first_source.inner_text()
    assert "Spørgsmål 2 · 2019" in first_source.inner_text()  # section and date
    audit = runtime.records.recent_audit(1)[0]
    answered = runtime.records.answer(audit["id"])
    note = turn.locator(".low-confidence")
    assert note.count() == int(answered.low_confidence)  # an uncertain answer says so, a sure one doesn't
    if answered.low_confidence:
        assert f"{round(answered.confidence * 100)} %" in note.inner_text()
    assert turn.locator(".see-also li").count() == len(answered.see_also)
    shot(page, "ask-desktop")

    turn.locator("button.marker").first.click()
    dialog = page.locator("#citation-dialog")
    dialog.wait_for(state="visible")
    highlighted = squash(dialog.locator("mark").inner_text())
    assert highlighted == squash(first_source.locator("blockquote").inner_text())
    assert highlighted == squash(answered.citations[0].quote), "the first marker opens the first quote, marked"
    context = squash(dialog.locator("#citation-text").inner_text())
    assert len(context) > len(highlighted) * 3 and "Spørgsmål 2" in context  # shown in its document
    shot(page, "ask-citation-desktop")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    turn.get_by_role("button", name="Dårligt svar").click()
    turn.get_by_text("Tak for din feedback.").wait_for()
    stored = runtime.records.recent_feedback(1)[0]
    assert (stored["rating"], stored["question"]) == (-1, "Bruger forvaltningen KLV-listerne fra RAR?")

    page.get_by_role("tab", name="Admin").click()  # this server has no admin token configured
    page.get_by_label("Admin-token").fill("anything")
    page.get_by_role("button", name="Log ind").click()
    page.get_by_text("Admin-API er slået fra: sæt PRAKTIKBOT_ADMIN_TOKEN", exact=False).wait_for()


def test_draft_a_two_question_inquiry_and_download_the_docx(serve, page, shared_index):
    url, _ = serve(shared_index)
    page.goto(url)
    page.get_by_role("tab", name="Udkast til svar").click()
    page.get_by_label("Henvendelse (indsæt e-mail eller brev)").fill(
        "Kære forvaltning\n\nJeg har to spørgsmål:\n\n1. Bruger forvaltningen KLV-listerne fra RAR?\n"
        "2. Hvad koster en parkeringstilladelse i Indre By?\n\nMed venlig hilsen\nAndreas Keil\n")
    page.get_by_role("button", name="Lav udkast").click()
    letter = page.locator("#letter")
    letter.wait_for()
    text = letter.inner_text()
    assert text.startswith("Kære Andreas Keil")
    assert re.search(r"Spørgsmål 1\nBruger forvaltningen KLV-listerne fra RAR\?", text)
    assert "Spørgsmål 2" in text and "Kilder:" in text
    assert letter.locator("mark").inner_text() == PLACEHOLDER  # highlighted for the person who fills it in
    shot(page, "draft-desktop")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Hent .docx").click()
    download = download_info.value
    assert download.suggested_filename == "udkast-til-svar.docx"
    ARTIFACTS.mkdir(exist_ok=True)
    download.save_as(ARTIFACTS / "udkast-til-svar.docx")
    paragraphs = [p.text for p in Document(io.BytesIO((ARTIFACTS / "udkast-til-svar.docx").read_bytes())).paragraphs]
    assert paragraphs[0] == "Kære Andreas Keil"
    assert "Spørgsmål 1" in paragraphs and "Spørgsmål 2" in paragraphs and PLACEHOLDER in paragraphs

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Kopiér som tekst").click()
    page.get_by_text("Brevteksten er kopieret.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == text.rstrip("\n") + "\n"


def test_admin_upload_reingest_and_ask_about_it(serve, page, make_index, tmp_path):
    url, _ = serve(make_index(admin_token=TOKEN))
    page.goto(url)
    page.get_by_role("tab", name="Admin").click()
    page.get_by_label("Admin-token").fill("wrong")
    page.get_by_role("button", name="Log ind").click()
    page.get_by_text("Forkert eller manglende token.").wait_for()

    page.get_by_label("Admin-token").fill(TOKEN)
    page.get_by_role("button", name="Log ind").click()
    table = page.locator("#documents")
    table.get_by_text("Svar på henvendelse om virksomhedspraktik").wait_for()
    assert "2019" in table.inner_text()

    procedure = tmp_path / "procedure-cykelparkering.md"
    procedure.write_text("# Procedure for cykelparkering for praktikanter\n\n## Cykelparkering\n\n"
                         "Praktikanter hos forvaltningen må parkere cykler i kælderen under Rådhuset, "
                         "indgang fra Vestergade.\n", encoding="utf-8")
    page.get_by_label("Fil (.txt, .md, .pdf, .docx, .html – højst 10 MB)").set_input_files(str(procedure))
    page.get_by_label("Mappe i vidensmappen").fill("procedures")
    page.get_by_role("button", name="Upload", exact=True).click()
    page.get_by_text("Uploadet: procedures/procedure-cykelparkering.md").wait_for()

    page.get_by_role("button", name="Genindlæs nu").click()
    page.get_by_text("Genindlæsning færdig.").wait_for(timeout=60_000)
    table.get_by_text("Procedure for cykelparkering for praktikanter").wait_for()
    assert "procedures/procedure-cykelparkering.md" in page.locator("#report").inner_text()  # added
    shot(page, "admin-desktop")

    page.get_by_role("tab", name="Spørg").click()
    turn = ask(page, "Hvor må praktikanter parkere deres cykler?")
    assert "kælderen under Rådhuset" in turn.locator(".answer-text").inner_text()
    assert "Procedure for cykelparkering for praktikanter" in turn.locator(".sources").inner_text()
    shot(page, "admin-then-ask-desktop")


def test_keyboard_english_switch_and_360px_layout(serve, browser, shared_index):
    url, _ = serve(shared_index.model_copy(update={"admin_token": TOKEN}))
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(url)
    page.get_by_role("tab", name="Spørg").focus()
    page.keyboard.press("ArrowRight")
    assert page.get_by_role("tab", name="Udkast til svar").get_attribute("aria-selected") == "true"
    assert page.locator("#panel-draft").is_visible() and not page.locator("#panel-ask").is_visible()
    page.keyboard.press("End")
    assert page.locator("#panel-admin").is_visible()

    page.get_by_role("button", name="English").click()
    assert page.get_by_role("tab", name="Reply draft").is_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    page.get_by_role("button", name="Dansk").click()

    for tab, name in (("Spørg", "ask"), ("Udkast til svar", "draft"), ("Admin", "admin")):
        page.get_by_role("tab", name=tab).click()
        if name == "ask":  # as opened from Slack's "Åbn i webappen": the question is asked at once
            page.goto(f"{url}/?q={quote('Hvem må underskrive ansøgningen som medarbejderrepræsentant?')}")
            assert "p-nummer" in page.locator("#conversation .turn").inner_text()
        if name == "admin":
            page.get_by_label("Admin-token").fill(TOKEN)
            page.get_by_role("button", name="Log ind").click()
            page.locator("#documents").get_by_text("Retningslinje for virksomhedspraktik").wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the {name} tab scrolls sideways at 360 px ({width} px)"
        shot(page, f"{name}-360px")
    context.close()
