"""People in the loop on Slack: a question the bot declines, a 👎, or a click on "Spørg en fagperson" goes to
the experts' channel (PRAKTIKBOT_SLACK_EXPERT_CHANNEL) with the bot's answer, its sources and a link to the
asker's thread. An expert's reply in that thread is relayed to the asker, marked as a person's answer, and
an admin or the expert can "Gem som kilde": the reply becomes a cited source (bot.contributed).

Each answer (audit id) is escalated once, whichever replica is asked; each user may escalate
PRAKTIKBOT_SLACK_ESCALATIONS_PER_MINUTE questions a minute."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ContextBlock, MarkdownTextObject, SectionBlock

from bot.contributed import expert_answer
from bot.models import Answer
from bot.ratelimit import SlidingWindow
from bot.runtime import Runtime
from bot.slack.blocks import SAVE_SOURCE, escape

log = logging.getLogger(__name__)
EXPERT_ROLE = "fagperson"
ESCALATED = "Dit spørgsmål er sendt til en fagperson; svaret kommer her i tråden (sent to an expert)."
ALREADY = "Spørgsmålet er allerede sendt til en fagperson (already sent to an expert)."
TOO_MANY = "Du har sendt mange spørgsmål til fagpersoner lige nu; prøv igen om lidt (too many escalations)."
NO_EXPERTS = "Der er ingen fagpersonkanal sat op (no experts' channel: PRAKTIKBOT_SLACK_EXPERT_CHANNEL)."
RELAYED = "Svaret er sendt til spørgeren. Gem det som kilde, så Praktikbot kan citere det næste gang."
SAVE_REFUSED = "Kun en administrator eller fagpersonen, der svarede, kan gemme svaret som kilde (not allowed)."
SAVING = "Svaret gemmes som kilde og indlæses ({path}); samme svar gemt igen opdaterer dokumentet."
NOT_ANSWERED = "Spørgsmålet har endnu intet svar fra en fagperson (no expert reply yet)."
REASONS = {"declined": "Praktikbot kunne ikke svare", "doubted": "En bruger gav svaret 👎",
           "asked": "Brugeren bad om en fagperson"}


def person_answer(reply: str) -> str:
    """How an expert's reply is shown to the asker: clearly a person's answer, not the bot's."""
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in escape(reply).splitlines())
    return f"*Svar fra en fagperson* (ikke fra Praktikbot / a person's answer, not the bot's):\n{quoted}"


class Escalations:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.limit = SlidingWindow(runtime.settings.slack_escalations_per_minute)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.slack_expert_channel)

    def escalate(self, client: WebClient, audit_id: int, answer: Answer, asker: str, channel: str,
                 thread_ts: str, reason: str) -> str:
        """Send the question to the experts; returns what to tell the asker."""
        if not self.settings.slack_expert_channel:
            return NO_EXPERTS
        if self.runtime.records.is_escalated(audit_id):
            return ALREADY
        if self.limit.wait(asker) > 0:
            return TOO_MANY
        escalation = self.runtime.records.escalate(audit_id, answer.question, reason, asker, channel, thread_ts)
        if escalation is None:  # another replica was quicker
            return ALREADY
        posted = client.chat_postMessage(channel=self.settings.slack_expert_channel, text=answer.question,
                                         blocks=self._blocks(answer, reason, self._link(client, channel, thread_ts)),
                                         unfurl_links=False)
        self.runtime.records.posted_to_experts(escalation, posted["channel"], posted["ts"])
        return ESCALATED

    @staticmethod
    def _link(client: WebClient, channel: str, ts: str) -> str | None:
        try:
            return client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
        except SlackApiError as exc:  # a link is a convenience: the escalation goes without it
            log.warning("no permalink to %s/%s: %s", channel, ts, exc.response.get("error"))
            return None

    @staticmethod
    def _blocks(answer: Answer, reason: str, link: str | None) -> list[dict]:
        said = "Praktikbot afstod fra at svare." if answer.abstained else escape(answer.answer)
        sources = "\n".join(f"• {escape(c.title)} · {escape(c.section)}" for c in answer.citations) or "–"
        lines = [
            SectionBlock(text=MarkdownTextObject(text=f"*Spørgsmål til en fagperson*\n>{escape(answer.question)}")),
            SectionBlock(text=MarkdownTextObject(text=f"*Praktikbots svar*\n{said}"[:3000])),
            SectionBlock(text=MarkdownTextObject(text=f"*Kilder*\n{sources}"[:3000])),
            ContextBlock(elements=[MarkdownTextObject(
                text=f"{REASONS.get(reason, reason)}. Svar i denne tråd: svaret sendes til spørgeren"
                     + (f" (<{link}|spørgerens tråd>)" if link else "") + ".")]),
        ]
        return [block.to_dict() for block in lines]

    def on_reply(self, client: WebClient, event: dict) -> bool:
        """A message in a thread of the experts' channel: relayed to the asker when it answers an
        escalation; True when it did."""
        if event.get("channel") != self.settings.slack_expert_channel or not event.get("thread_ts"):
            return False
        escalation = self.runtime.records.escalation_in_thread(event["channel"], event["thread_ts"])
        if escalation is None or not (text := event.get("text", "").strip()):
            return False
        reply = self.runtime.records.expert_replied(escalation["id"], text, event.get("user", ""),
                                                    self.runtime.settings.masking)
        client.chat_postMessage(channel=escalation["asker_channel"], thread_ts=escalation["asker_ts"],
                                text=person_answer(reply), unfurl_links=False)
        save = ButtonElement(text="Gem som kilde", action_id=SAVE_SOURCE, value=str(escalation["id"]), style="primary")
        client.chat_postMessage(channel=event["channel"], thread_ts=event["thread_ts"], text=RELAYED,
                                blocks=[SectionBlock(text=MarkdownTextObject(text=RELAYED)).to_dict(),
                                        ActionsBlock(elements=[save]).to_dict()])
        return True

    def save_as_source(self, user: str, value: str) -> str:
        """"Gem som kilde" by `user`: only an admin or the expert who replied; returns what to tell them."""
        escalation = self.runtime.records.escalation(int(value)) if value.isdigit() else None
        if escalation is None or not escalation["reply"]:
            return NOT_ANSWERED
        if user not in self.settings.slack_admin_ids and user != escalation["reply_user"]:
            log.info("Slack user %s may not save escalation %s as a source", user, value)
            return SAVE_REFUSED
        path, text = expert_answer(escalation["id"], escalation["question"], escalation["reply"], EXPERT_ROLE)
        self.runtime.save_source(path, text)
        self.runtime.records.saved_as_source(escalation["id"], path)
        return SAVING.format(path=path)
