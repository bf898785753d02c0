"""All settings (see the README's table): the index's, plus the LLM, admin and Slack ones."""

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

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

    @property
    def slack_admin_ids(self) -> set[str]:
        return {part.strip() for part in self.slack_admins.split(",") if part.strip()}
