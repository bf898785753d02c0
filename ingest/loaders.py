"""Read a source file into text. Each loader returns markdown-ish text: headings become "#" lines,
so one splitter serves every format. A file that can't be read raises `DocumentError` with a reason."""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path


class DocumentError(Exception):
    """A document could not be turned into text; the message says why, for the ingest report."""


@dataclass(frozen=True)
class ZipLimits:
    """How far a .docx (a zip) may unpack: a zip bomb is refused before any parser touches it."""

    max_uncompressed_bytes: int = 50_000_000
    max_compression_ratio: float = 100.0


SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) first; Danish Windows files (cp1252, latin-1) otherwise."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def load_plain(path: Path) -> str:
    text = decode_text(path.read_bytes())
    if "\x00" in text:
        raise DocumentError("filen indeholder binære data, ikke tekst (binary content, not text)")
    return text


# --- PDF -------------------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(r"^(side|page)?\s*\d+(\s*(af|of|/)\s*\d+)?$", re.IGNORECASE)


def _margin_key(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip().lower())


def load_pdf(path: Path) -> str:
    """Text layer of every page, without page numbers and headers/footers repeated on most pages."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise DocumentError("PDF-filen er krypteret (encrypted PDF)")
        pages = [(page.extract_text() or "") for page in reader.pages]
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many kinds (and RecursionError) for a damaged file
        raise DocumentError(f"PDF-filen kan ikke læses (unreadable PDF: {type(exc).__name__}: {exc})") from exc
    page_lines = [page.splitlines() for page in pages]
    margins: Counter[str] = Counter()
    for lines in page_lines:
        content = [ln for ln in lines if ln.strip()]
        edge = {_margin_key(ln) for ln in content[:2] + content[-2:]}
        margins.update(edge)
    repeated = {key for key, count in margins.items() if len(pages) >= 2 and count >= max(2, len(pages) // 2)}
    kept_pages = []
    for lines in page_lines:
        lines = list(lines)
        for _ in range(2):  # headers and footers sit at the page edges only; blank lines inside stay
            for edge in (0, -1):
                while lines and not lines[edge].strip():
                    lines.pop(edge)
                if lines and (_PAGE_NUMBER.match(lines[edge].strip()) or _margin_key(lines[edge]) in repeated):
                    lines.pop(edge)
        kept_pages.append("\n".join(lines))
    return "\n".join(kept_pages)


# --- DOCX ------------------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^(heading|overskrift)\s*(\d)$", re.IGNORECASE)


def check_zip(path: Path, limits: ZipLimits) -> None:
    """Refuse a zip whose entries unpack (by their declared sizes, which zipfile enforces when
    reading) to more than the limit, or at a ratio only a zip bomb reaches."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError(f"DOCX-filen er ikke en gyldig zip-fil (unreadable DOCX: {exc})") from exc
    unpacked = sum(info.file_size for info in entries)
    packed = sum(info.compress_size for info in entries)
    if unpacked > limits.max_uncompressed_bytes:
        raise DocumentError(f"DOCX-filen fylder {unpacked:,} byte udpakket; grænsen er "
                            f"{limits.max_uncompressed_bytes:,} (uncompressed size over the limit)")
    if unpacked > limits.max_compression_ratio * max(packed, 1):
        raise DocumentError(f"DOCX-filen er pakket {unpacked / max(packed, 1):.0f} gange; grænsen er "
                            f"{limits.max_compression_ratio:.0f} (compression ratio over the limit: zip bomb?)")


def load_docx(path: Path, limits: ZipLimits) -> str:
    """Paragraphs in order; Word headings become "#" lines; tables as one line per row."""
    import docx

    check_zip(path, limits)
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # PackageNotFoundError, KeyError, lxml errors from a damaged file
        raise DocumentError(f"DOCX-filen kan ikke læses (unreadable DOCX: {type(exc).__name__}: {exc})") from exc
    out: list[str] = []
    for block in document.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = docx.text.paragraph.Paragraph(block, document)
            text = paragraph.text.strip()
            if not text:
                continue
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            match = _HEADING_STYLE.match(style)
            if style.lower() == "title":
                out.append(f"# {text}")
            elif match:
                out.append(f"{'#' * min(int(match.group(2)) + 1, 6)} {text}")
            else:
                out.append(text)
        elif tag == "tbl":
            table = docx.table.Table(block, document)
            for row in table.rows:
                cells = [c.text.strip() for c in row.cells]
                out.append(" | ".join(c for c in cells if c))
    return "\n\n".join(out)


# --- HTML ------------------------------------------------------------------------------------------

class _HtmlText(HTMLParser):
    _BLOCKS = {"p", "div", "li", "br", "tr", "section", "article", "table", "ul", "ol", "blockquote"}
    _SKIP = {"script", "style", "nav", "header", "footer", "head", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in self._SKIP:
            self._skip_depth += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self._BLOCKS:
            self.parts.append("\n\n" if tag != "li" else "\n- ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1
        elif re.fullmatch(r"h[1-6]", tag) or tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip_depth:
            self.parts.append(re.sub(r"\s+", " ", data))


def load_html(path: Path) -> str:
    parser = _HtmlText()
    parser.feed(load_plain(path))
    body = "".join(parser.parts)
    if parser.title.strip() and not re.search(r"^#\s", body.lstrip(), re.MULTILINE):
        body = f"# {parser.title.strip()}\n\n{body}"
    return body


def load_file(path: Path, limits: ZipLimits | None = None) -> str:
    """Dispatch on the file suffix; raise `DocumentError` for anything we can't read."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"filtypen {suffix or '(ingen)'} understøttes ikke; brug {', '.join(SUPPORTED_SUFFIXES)} "
            "(unsupported file type)"
        )
    try:
        if suffix == ".pdf":
            return load_pdf(path)
        if suffix == ".docx":
            return load_docx(path, limits or ZipLimits())
        if suffix in (".html", ".htm"):
            return load_html(path)
        return load_plain(path)
    except OSError as exc:
        raise DocumentError(f"filen kan ikke læses (cannot read file: {exc.strerror or exc})") from exc
