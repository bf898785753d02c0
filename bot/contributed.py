"""Sources people contribute: an expert's answer to an escalated question, and an approved reply letter.

Each becomes a document in knowledge/inquiry-answers/, written and ingested by a "source" job, so the next
person asking is answered with a citation to it. The path follows from what it is (escalation N, draft
D), so saving it again updates the same document. Personal data — CPR numbers, e-mail addresses, phone
numbers — is masked before anything is written, whatever the index's own masking policy, and the author
is named by role, never by name."""

from __future__ import annotations

import datetime as dt

import yaml

from bot.draft import ANSWER_LABEL, CLOSING
from ingest.personal_data import MaskingPolicy, mask_personal_data

FOLDER = "inquiry-answers"
STRICT = MaskingPolicy(cpr=True, contact_details=True)
TITLE_CHARS = 80


def masked(text: str) -> str:
    return mask_personal_data(text, STRICT)[0]


def _front_matter(fields: dict) -> str:
    return "---\n" + yaml.safe_dump(fields, allow_unicode=True, sort_keys=False, width=1000) + "---\n\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def expert_answer(escalation_id: int, question: str, reply: str, role: str,
                  today: dt.date | None = None) -> tuple[str, str]:
    """(knowledge-relative path, Markdown) of an expert's answer: the question as its heading, so a
    question like it finds the passage, and the answer as its text."""
    question, reply = _one_line(masked(question)), masked(reply).strip()
    title = question if len(question) <= TITLE_CHARS else question[:TITLE_CHARS].rsplit(" ", 1)[0] + " …"
    fields = {"title": f"Svar fra en fagperson: {title}", "type": "inquiry-answer", "audience": "internal",
              "valid_from": (today or dt.date.today()).isoformat(), "question": question, "author_role": role,
              "note": "Svar fra en fagperson på et spørgsmål, Praktikbot ikke kunne besvare (gemt fra Slack)."}
    return f"{FOLDER}/fagperson-svar-{escalation_id:05d}.md", f"{_front_matter(fields)}# {question}\n\n{reply}\n"


def approved_letter(draft_id: str, items: list[tuple[int, str, str]], role: str,
                    today: dt.date | None = None) -> tuple[str, str]:
    """(knowledge-relative path, text) of an approved reply letter in the administration's letter form
    ("Spørgsmål N" / "Beskæftigelses- og Integrationsforvaltningens svar"), which the ingest splits into
    its questions. `items` are (number, question, approved answer); the greeting with the inquirer's name
    and address is left out."""
    fields = {"title": f"Godkendt svar på henvendelse ({(today or dt.date.today()).isoformat()})",
              "type": "inquiry-answer", "audience": "internal", "valid_from": (today or dt.date.today()).isoformat(),
              "author_role": role, "note": "Godkendt svarbrev fra henvendelsesteamet, gemt som kilde; "
                                           "henvenderens navn og adresse er fjernet."}
    body = "".join(f"Spørgsmål {n}: {_one_line(masked(question))}\n\n{ANSWER_LABEL}\n\n{masked(answer).strip()}\n\n"
                   for n, question, answer in items)
    return f"{FOLDER}/godkendt-svar-{draft_id}.md", f"{_front_matter(fields)}{body}{CLOSING}\n"
