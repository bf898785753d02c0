"""What the Slack bot says besides answers: help, status, the re-ingest report and short errors.
Danish first, English after it where it is short."""

from __future__ import annotations

import time

from bot.slack.blocks import TEXT_LIMIT, escape, trim

HELP = (
    "*Praktikbot* svarer på spørgsmål om virksomhedspraktik med henvisning til kilderne "
    "(answers with citations).\n"
    "• Nævn mig i en kanal: `@Praktikbot Bruger forvaltningen KLV-listerne fra RAR?` – jeg svarer i tråden, "
    "og du kan stille opfølgende spørgsmål i samme tråd.\n"
    "• Skriv til mig i en direkte besked.\n"
    "• `/praktik <spørgsmål>` – svaret vises kun for dig, med en knap til at dele det i kanalen.\n"
    "• Spørg om reglerne på et bestemt tidspunkt, fx `Hvad gjaldt i 2019 om KLV-listerne?` "
    "(the rules as of a date). Er reglerne ændret, siden en kilde blev skrevet, står det under svaret.\n"
    "• `/praktik status` – antal dokumenter og tekstafsnit, seneste indlæsning.\n"
    "• `/praktik reindex` – genindlæs vidensmappen (kun administratorer).\n"
    "• `/praktik help` – denne hjælp."
)
ERROR = "Beklager, der opstod en fejl. Prøv igen om lidt. (Sorry, something went wrong.)"
NO_INDEX = ("Der er endnu ikke indlæst nogen dokumenter – bed en administrator køre `/praktik reindex`. "
            "(Nothing has been ingested yet.)")
EMPTY_QUESTION = "Skriv dit spørgsmål efter mit navn, fx `@Praktikbot Hvad er KLV-listen?` (ask a question)."
EXPIRED = ("Svaret er ikke længere gemt – stil spørgsmålet igen. "
           "(This answer is no longer stored; please ask again.)")
THANKS = "Tak for din feedback! (Thanks for your feedback.)"
RATE_LIMITED = ("Du har stillet mange spørgsmål på kort tid – vent et minut, og prøv så igen. "
                "(Too many questions in a short time; please wait a minute.)")
NOT_IN_CHANNEL = ("Jeg kan ikke skrive i denne kanal. Inviter mig med `/invite @Praktikbot` og prøv igen. "
                  "(Invite me to the channel first.)")
REINDEX_REFUSED = ("Beklager, kun administratorer kan genindlæse vidensmappen. "
                   "(Sorry, only administrators can re-index.)")
REINDEX_STARTED = "Genindlæsning startet… Jeg skriver, når den er færdig. (Re-index started.)"
REINDEX_BUSY = ("En genindlæsning kører allerede – prøv igen, når den er færdig. "
                "(A re-index is already running.)")


def _when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else "aldrig (never)"


def status(info: dict) -> str:
    """`/praktik status` from Runtime.status()."""
    text = (f"*Status*: {info.get('documents', 0)} dokumenter, {info.get('chunks', 0)} tekstafsnit i indekset. "
            f"Seneste indlæsning: {_when(info.get('last_ingest'))}.")
    if info.get("ingest_running"):
        text += "\nEn genindlæsning kører nu. (A re-index is running.)"
    return text


def _names(label: str, paths: list[str], shown: int = 10) -> str:
    more = f" … og {len(paths) - shown} mere" if len(paths) > shown else ""
    return f"\n{label}: " + ", ".join(f"`{escape(p)}`" for p in paths[:shown]) + more if paths else ""


def ingest_report(report: dict) -> str:
    """The re-ingest report (the contract's JSON) as one Slack message."""
    failed = report.get("failed", [])
    text = (
        f"*Genindlæsning færdig* på {report.get('seconds', 0):.1f} s: "
        f"{len(report.get('added', []))} tilføjet, {len(report.get('updated', []))} opdateret, "
        f"{len(report.get('removed', []))} fjernet, {len(report.get('unchanged', []))} uændret, "
        f"{len(failed)} fejlet.\n"
        f"Indekset har nu {report.get('documents', 0)} dokumenter og {report.get('chunks', 0)} tekstafsnit."
        + _names("Tilføjet", report.get("added", []))
        + _names("Opdateret", report.get("updated", []))
        + _names("Fjernet", report.get("removed", []))
    )
    for failure in failed:
        text += f"\n:warning: `{escape(failure.get('path', '?'))}`: {escape(failure.get('error', ''))}"
    for found in report.get("warnings", []):
        handled = "maskeret" if found.get("masked") else "ikke maskeret"
        text += (f"\n:lock: `{escape(found.get('path', '?'))}`: {found.get('count', 0)} × "
                 f"{escape(found.get('kind', '?'))}, {handled}")
    return trim(text, TEXT_LIMIT)


def reindex_failed(error: Exception) -> str:
    return trim(f"Genindlæsningen fejlede (re-index failed): {escape(str(error))}", TEXT_LIMIT)
