"""Sources in time on the web page, in headless Chromium: warnings about rule changes after a quoted source,
answers for another date, citations that link to the version they quote, and the admin tab's document
versions and rules timeline (shown, edited and put in service by a job)."""

from __future__ import annotations

import yaml

from bot.models import Answer
from bot.runtime import Runtime
from ingest.dates import danish
from ingest.documents import TIMELINE_FILE
from ingest.sync import sync
from tests import test_web_e2e as e2e
from tests.conftest import KNOWLEDGE, SEED_LETTER
from tests.test_web_e2e import PHONE, TOKEN, ask, shot, squash

KLV_QUESTION = "Hvorfor validerer forvaltningen ikke KLV-listerne?"
AS_OF_LABEL = "Svar efter reglerne pr. (dato)"
WARNINGS = "Reglerne er ændret siden kilden"  # the notice box's name

# The browser tests' fixtures (one Chromium per module, a page per test, the app served by uvicorn) and skip.
browser, page, serve, pytestmark = e2e.browser, e2e.page, e2e.serve, e2e.pytestmark

OLD_GUIDE = """---
title: Retningslinje for mødelokaler
type: guideline
audience: public
valid_from: 2022-01-01
valid_to: 29.2.2024
---

# Mødelokaler

Mødelokalet Havnesalen bookes hos teamlederen senest tre hverdage før mødet.
"""
NEW_GUIDE = """---
title: Retningslinje for mødelokaler
type: guideline
audience: public
valid_from: 1. marts 2024
supersedes: guidelines/moedelokaler-2022.md
---

# Mødelokaler

Mødelokalet Havnesalen bookes i lokalebookingsystemet senest fem hverdage før mødet.
"""
# A change the admin adds on the page: after the KLV procedure was written, before today.
ADDED_CHANGE = """
- date: 1. juni 2025
  act: testændring nr. 1 af 1/6 2025
  summary: En ændring, som testen tilføjer på admin-fanen.
  topics: [KLV]
"""


def _answered(runtime: Runtime) -> Answer:
    """The answer the page just showed, as the audit log stored it."""
    answer = runtime.records.answer(runtime.records.recent_audit(1)[0]["id"])
    assert answer is not None
    return answer


def test_warnings_as_of_date_and_version_links_on_the_ask_and_draft_tabs(serve, page, make_index):
    url, runtime = serve(make_index())  # a copy of the template both tests share: one ingest for the module
    page.goto(url)

    turn = ask(page, KLV_QUESTION)
    answered = _answered(runtime)
    notice = turn.get_by_role("note", name=WARNINGS)
    assert "lov nr. 548 af 7/5 2019" in notice.inner_text()
    for warning in answered.warnings:  # each change with its act, marked when it is not verified
        item = notice.locator("li", has_text=warning.act)
        assert warning.message in squash(item.inner_text())
        assert item.locator(".badge", has_text="ikke verificeret").count() == int(not warning.verified)
    assert turn.locator(".as-of").count() == 0  # today's rules: no "pr." line

    letter = next(c for c in answered.citations if c.source == SEED_LETTER)
    source = turn.locator(".sources li", has_text=letter.quote).first
    link = source.get_by_role("link", name=f"Vis kilde {letter.n} i dokumentet")
    assert link.get_attribute("href") == f"/api/documents/{letter.doc_id}"  # the version it quotes
    assert f"· {danish(letter.valid_from)} ·" in source.locator(".meta").inner_text()
    link.click()
    dialog = page.locator("#citation-dialog")
    dialog.wait_for(state="visible")
    assert f"gyldig fra {danish(letter.valid_from)}" in dialog.locator("#citation-meta").inner_text()
    assert squash(letter.quote) in squash(dialog.locator("mark").inner_text())
    shot(page, "time-ask-warning")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    page.locator("#panel-ask").get_by_label(AS_OF_LABEL).fill("2019-06-01")
    then = ask(page, KLV_QUESTION)
    assert "Gælder pr. 1. juni 2019 (den valgte dato)" in then.locator(".as-of").inner_text()
    assert then.locator(".warnings time[datetime^='2020']").count() == 0  # nothing about what came after
    assert "lov nr. 548" not in then.locator(".answer-text").inner_text()
    assert _answered(runtime).as_of == "2019-06-01"

    page.get_by_role("tab", name="Udkast til svar").click()
    page.get_by_label("Henvendelse (indsæt e-mail eller brev)").fill(
        f"Kære forvaltning\n\n1. {KLV_QUESTION}\n\nMed venlig hilsen\nAndreas Keil\n")
    page.get_by_role("button", name="Lav udkast").click()
    item = page.locator("#draft-sources .draft-item").first
    item.wait_for()
    assert "lov nr. 548 af 7/5 2019" in item.get_by_role("note", name=WARNINGS).inner_text()  # for the case worker
    assert "Reglerne blev ændret" not in page.locator("#letter").inner_text()  # not part of the letter

    page.locator("#panel-draft").get_by_label(AS_OF_LABEL).fill("2019-06-01")
    page.get_by_role("button", name="Lav udkast").click()
    page.locator("#draft-sources .as-of").wait_for()
    assert "Gælder pr. 1. juni 2019" in page.locator("#draft-sources .as-of").inner_text()
    assert page.locator("#draft-sources .warnings time[datetime^='2020']").count() == 0
    shot(page, "time-draft")


def test_admin_tab_shows_versions_and_the_timeline_and_saves_an_edited_timeline(serve, page, make_index):
    settings = make_index(admin_token=TOKEN)
    (settings.knowledge_dir / "guidelines" / "moedelokaler-2022.md").write_text(OLD_GUIDE, encoding="utf-8")
    (settings.knowledge_dir / "guidelines" / "moedelokaler-2024.md").write_text(NEW_GUIDE, encoding="utf-8")
    assert not sync(settings).failed
    url, runtime = serve(settings)
    page.goto(url)
    page.get_by_role("tab", name="Admin").click()
    page.get_by_label("Admin-token").fill(TOKEN)
    page.get_by_role("button", name="Log ind").click()

    documents = page.locator("#documents")
    old = documents.locator("tr", has_text="guidelines/moedelokaler-2022.md")
    old.wait_for()
    assert old.locator(".not-in-force").inner_text() == "Ikke i kraft" and "2024-02-29" in old.inner_text()
    assert "erstattet af Retningslinje for mødelokaler (1. marts 2024)" in old.inner_text()
    new = documents.locator("tr", has_text="guidelines/moedelokaler-2024.md")
    assert new.locator(".in-force").inner_text() == "I kraft"
    assert "erstatter Retningslinje for mødelokaler (1. januar 2022)" in new.inner_text()

    timeline_file = settings.knowledge_dir / TIMELINE_FILE
    shipped = yaml.safe_load((KNOWLEDGE / TIMELINE_FILE).read_text(encoding="utf-8"))
    entries = page.locator("#timeline-entries")
    entries.locator("tr", has_text=shipped[-1]["act"]).wait_for()
    for change in shipped:
        row = entries.locator("tr", has_text=change["act"])
        assert row.count() == 1
        assert row.locator(".badge", has_text="ikke verificeret").count() == int(not change.get("verified", True))
    editor = page.get_by_label("Rediger tidslinjen (YAML, rules-timeline.yaml)")
    original = timeline_file.read_text(encoding="utf-8")
    assert editor.input_value() == original
    shot(page, "time-admin")

    broken = original + "\n- date: 32.13.2025\n  act: forkert\n  summary: Forkert dato.\n  topics: [KLV]\n"
    editor.fill(broken)
    page.get_by_role("button", name="Gem tidslinje").click()
    status = page.locator("#timeline-status")
    status.get_by_text("ikke en gyldig dato", exact=False).wait_for()
    assert f"ændring {len(shipped) + 1}" in status.inner_text()  # names the entry
    assert editor.input_value() == broken and editor.get_attribute("aria-invalid") == "true"  # nothing lost
    assert timeline_file.read_text(encoding="utf-8") == original

    editor.fill(original + ADDED_CHANGE)
    page.get_by_role("button", name="Gem tidslinje").click()
    status.get_by_text(f"Tidslinjen er gemt og i brug ({len(shipped) + 1} ændringer).").wait_for(timeout=60_000)
    assert entries.locator("tr", has_text="testændring nr. 1 af 1/6 2025").count() == 1
    assert timeline_file.read_text(encoding="utf-8") == original + ADDED_CHANGE
    job = next(j for j in runtime.jobs() if j.kind == "timeline")
    assert job.state == "done"
    shot(page, "time-admin-saved")
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the admin tab scrolls sideways at 360 px ({width} px)"
    shot(page, "time-admin-360px")
    page.set_viewport_size(e2e.DESKTOP)

    page.get_by_role("tab", name="Spørg").click()
    turn = ask(page, KLV_QUESTION)
    assert "testændring nr. 1 af 1/6 2025" in turn.get_by_role("note", name=WARNINGS).inner_text()
