"""A source document as the index sees it: relative path, metadata, cleaned text, content hash.

Metadata comes from YAML front matter (Markdown) or a sidecar `<file>.meta.yaml` for files kept
verbatim; what neither gives is inferred (title from the first heading, type from the folder)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.clean import clean_text
from ingest.dates import DateError, parse_date, period_end, period_start
from ingest.loaders import DocumentError, ZipLimits, decode_text, load_file
from ingest.personal_data import MaskingPolicy, mask_personal_data

SIDECAR_SUFFIX = ".meta.yaml"
# Bumped when cleaning or splitting changes, so every document is re-processed once.
PIPELINE_VERSION = "5"
# Who may read a document: "public" sources may be quoted to journalists and citizens; the default is
# "internal", so a document nobody classified is never sent out.
AUDIENCES = ("public", "internal")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n", re.DOTALL)
_TYPES_BY_FOLDER = {
    "inquiry-answers": "inquiry-answer", "henvendelser": "inquiry-answer", "svar": "inquiry-answer",
    "guidelines": "guideline", "retningslinjer": "guideline",
    "procedures": "procedure", "procedurer": "procedure",
}


@dataclass
class SourceDocument:
    doc_id: str
    source: str  # path relative to the knowledge dir, with forward slashes
    content_hash: str
    title: str
    doc_type: str
    text: str  # the cleaned text every chunk offset and quote refers to
    valid_from: str | None = None  # ISO text at the precision written ("2019", "2024-03-01"): ingest.dates
    valid_to: str | None = None
    supersedes: list[str] = field(default_factory=list)  # paths or titles of the versions this one replaces
    audience: str = "internal"
    metadata: dict = field(default_factory=dict)
    masked: dict[str, int] = field(default_factory=dict)  # personal data masked in `text`: kind → count
    unmasked: dict[str, int] = field(default_factory=dict)  # found but kept by the masking policy


def doc_id_for(source: str) -> str:
    """Stable id from the relative path: a changed file keeps its id, so it is "updated"."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


TIMELINE_FILE = "rules-timeline.yaml"  # the admins' timeline of rule changes (ingest.timeline), at the top
RESERVED_NAMES = {"readme.md", TIMELINE_FILE}  # the knowledge dir's own files: never documents


def is_source_file_name(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(SIDECAR_SUFFIX) and name.lower() not in RESERVED_NAMES


def is_source_file(path: Path) -> bool:
    return path.is_file() and is_source_file_name(path.name)


def content_hash(path: Path, masking: MaskingPolicy | None = None) -> str:
    """Hash of the file, its sidecar, the pipeline version and the masking policy: any of them
    changing means re-ingest."""
    digest = hashlib.sha256(f"{PIPELINE_VERSION}\0{(masking or MaskingPolicy()).key}".encode())
    digest.update(path.read_bytes())
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.exists():
        digest.update(b"\0sidecar\0" + sidecar.read_bytes())
    return digest.hexdigest()


def _parse_yaml(text: str, where: str) -> dict:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise DocumentError(f"ugyldig YAML i {where} (invalid YAML: {exc})") from exc
    if not isinstance(data, dict):
        raise DocumentError(f"{where} skal være en YAML-ordbog (metadata must be a mapping)")
    return data


def _split_front_matter(text: str) -> tuple[dict, str]:
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if not match:
        return {}, text
    return _parse_yaml(match.group(1), "front matter"), text.lstrip("\ufeff")[match.end():]


def _metadata_date(metadata: dict, key: str) -> str | None:
    value = metadata.get(key)
    if value is None or value == "":
        return None
    try:
        return parse_date(value)
    except DateError as exc:
        raise DocumentError(f"{key}: {exc}") from exc


def _supersedes(metadata: dict) -> list[str]:
    value = metadata.get("supersedes")
    values = value if isinstance(value, list) else [] if value is None else [value]
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise DocumentError("supersedes skal være en sti eller en titel, eller en liste af dem "
                            "(supersedes must be a path or a title, or a list of them)")
    return [v.strip() for v in values]


def _strip_markdown(text: str) -> str:
    """Drop emphasis and quote markers so quotes read as plain sentences; keep "#" headings."""
    text = re.sub(r"^>\s?", "", text, flags=re.MULTILINE)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    return re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)


def read_document(path: Path, knowledge_dir: Path, masking: MaskingPolicy | None = None,
                  limits: ZipLimits | None = None) -> SourceDocument:
    """Load, clean, mask and describe one file. Raises `DocumentError` with a reason a person can act on.

    Personal data is masked in the cleaned text (and the title), so no chunk, sentence, vector or
    stored text ever holds it."""
    masking = masking or MaskingPolicy()
    source = path.resolve().relative_to(knowledge_dir.resolve()).as_posix()
    digest = content_hash(path, masking)
    metadata: dict = {}
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        metadata, body = _split_front_matter(decode_text(path.read_bytes()))
        body = _strip_markdown(body)
    else:
        body = load_file(path, limits)
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.exists():
        metadata = {**metadata, **_parse_yaml(decode_text(sidecar.read_bytes()), sidecar.name)}
    text, masked, unmasked = mask_personal_data(clean_text(body), masking)
    if not text or not any(ch.isalpha() for ch in text):
        raise DocumentError("dokumentet indeholder ingen tekst (no text could be extracted)")
    title = str(metadata.get("title") or _first_heading(text) or path.stem.replace("-", " ")).strip()
    title, title_masked, _ = mask_personal_data(title, masking)
    for kind, count in title_masked.items():
        masked[kind] = masked.get(kind, 0) + count
    folder = Path(source).parts[0] if len(Path(source).parts) > 1 else ""
    doc_type = str(metadata.get("type") or _TYPES_BY_FOLDER.get(folder, "document"))
    audience = str(metadata.get("audience") or "internal").strip().lower()
    if audience not in AUDIENCES:
        raise DocumentError(f"audience skal være {' eller '.join(AUDIENCES)}, ikke {audience!r} "
                            f"(audience must be public or internal)")
    valid_from, valid_to = _metadata_date(metadata, "valid_from"), _metadata_date(metadata, "valid_to")
    if valid_from and valid_to and period_end(valid_to) < period_start(valid_from):
        raise DocumentError(f"valid_to ({valid_to}) ligger før valid_from ({valid_from}) "
                            "(valid_to is before valid_from)")
    return SourceDocument(
        doc_id=doc_id_for(source), source=source, content_hash=digest, title=title, doc_type=doc_type,
        text=text, valid_from=valid_from, valid_to=valid_to, supersedes=_supersedes(metadata), audience=audience,
        metadata=metadata, masked=masked, unmasked=unmasked,
    )


def _first_heading(text: str) -> str | None:
    match = re.search(r"^#{1,6}\s+(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else None
