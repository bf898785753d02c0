"""All settings (see the README's table): the index's, plus the LLM, admin and Slack ones."""

from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict

from bot.db import normalised_url
from ingest.documents import AUDIENCES
from ingest.settings import IndexSettings


class Settings(IndexSettings):
    model_config = SettingsConfigDict(env_prefix="PRAKTIKBOT_", env_file=".env", extra="ignore")

    llm: str | None = None
    admin_token: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    slack_api_url: str | None = None
    slack_admins: str = ""
    slack_bot_token: str | None = Field(default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN"))
    slack_signing_secret: str | None = Field(default=None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET"))
    slack_app_token: str | None = Field(default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN"))
    # days an answer stays in the audit log (with its feedback); None keeps it. `praktikbot purge` and the
    # start of `praktikbot serve` delete what is older
    audit_days: int | None = Field(default=None, ge=0)
    # web limits: the largest request body (uploads have their own cap), and asks/drafts per client a minute
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    rate_ask_per_minute: int = Field(default=60, ge=1)
    rate_draft_per_minute: int = Field(default=10, ge=1)

    @property
    def slack_admin_ids(self) -> set[str]:
        return {part.strip() for part in self.slack_admins.split(",") if part.strip()}

    # in a Slack thread the bot has answered in: answer "questions" (a "?" or a question word), "all" messages,
    # or only "mentions" of the bot; thanks ("tak!") never get an answer
    slack_thread_replies: Literal["questions", "all", "mentions"] = "questions"
    # questions one Slack user may ask a minute (per process); over it the user is told once to wait
    slack_user_rate_per_minute: int = Field(default=20, ge=1)
    # the experts' channel: questions the bot declines (or a user doubts, or asks a person about) go there, and
    # an expert's reply in the thread is relayed to the asker; unset: no escalation
    slack_expert_channel: str | None = None
    # questions one Slack user may send to the experts a minute (per process)
    slack_escalations_per_minute: int = Field(default=3, ge=1)
    # channels limited to some audiences, e.g. "C0PRESS=public; C0TEAM=public,internal"; others see all
    slack_channel_audiences: str = ""

    @field_validator("slack_channel_audiences")
    @classmethod
    def _known_audiences(cls, value: str) -> str:
        for channel, audiences in _channel_audiences(value).items():
            if not channel or not audiences or not audiences <= set(AUDIENCES):
                raise ValueError(f"PRAKTIKBOT_SLACK_CHANNEL_AUDIENCES: skriv kanal=public eller kanal=public,internal "
                                 f"(write channel=audience[,audience]; audiences are {', '.join(AUDIENCES)})")
        return value

    def slack_audiences(self, channel: str) -> frozenset[str] | None:
        """The audiences a Slack channel's answers may quote; None: all sources."""
        return _channel_audiences(self.slack_channel_audiences).get(channel)

    # the database of the audit log, feedback, Slack's event ids and the jobs: None is the SQLite file
    # praktikbot.sqlite3 in the data dir; several replicas share a postgresql://user:password@host/database
    database_url: str | None = None

    @field_validator("database_url")
    @classmethod
    def _usable_database(cls, value: str | None) -> str | None:
        return None if value is None else normalised_url(value)


def _channel_audiences(value: str) -> dict[str, frozenset[str]]:
    pairs = (part.partition("=") for part in value.split(";") if part.strip())
    return {channel.strip(): frozenset(a.strip() for a in audiences.split(",") if a.strip())
            for channel, _, audiences in pairs}
