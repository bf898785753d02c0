"""Danish synonyms, so a question in a citizen's own words ("firmaet") reaches the word a passage uses
("virksomheden"): a question's concept is covered by a synonym too, and BM25 searches the synonyms at a
lower weight (bot/retrieve.py).

The table is the Danish thesaurus of LibreOffice (Foreningen for frit tilgængelige sprogværktøjer,
licensed LGPL-2.1, GPL-2 or MPL-1.1), synonyms only: each headword with the words listed beside it for
one of its senses; narrower terms ("underbegreb") and phrases are left out. bot/resources/synonyms_da.txt.gz
is derived from Debian's mythes-da package (/usr/share/mythes/th_da_DK.dat) by
`python -m bot.synonyms th_da_DK.dat`, one sense per line: "headword|synonym|synonym…"."""

from __future__ import annotations

import gzip
import re
import sys
import threading
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ingest.terms import terms

RESOURCE = "resources/synonyms_da.txt.gz"
_NARROWER = "(underbegreb)"
_LABEL = re.compile(r"\s*\([^)]*\)\s*$")  # "(daglig tale)", "(fagudtryk)" after a word
_loading = threading.Lock()


@lru_cache(maxsize=1)
def _table() -> dict[str, frozenset[str]]:
    """Stem → the stems of its synonyms (both ways: a synonym of a headword has the headword as one)."""
    text = gzip.decompress(resources.files("bot").joinpath(RESOURCE).read_bytes()).decode("utf-8")
    table: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        stems = terms(line.replace("|", " "))  # one stem per word: derive() keeps single words only
        head = stems[0]
        for stem in stems[1:]:
            if stem != head:
                table.setdefault(head, set()).add(stem)
                table.setdefault(stem, set()).add(head)
    return {stem: frozenset(found) for stem, found in table.items()}


def load_synonyms() -> dict[str, frozenset[str]]:
    """The table, read once (about a second), also when a question arrives while it loads at start."""
    with _loading:
        return _table()


def synonyms(stem: str) -> frozenset[str]:
    return load_synonyms().get(stem, frozenset())


def related(stems: Iterable[str]) -> list[str]:
    """The synonyms of `stems` that are not among them, in a stable order."""
    stems = list(stems)
    return sorted({s for stem in stems for s in synonyms(stem)} - set(stems))


def derive(thesaurus: str) -> str:
    """The table's text from a MyThes file: for every single-word headword, one line per sense with its
    single-word synonyms."""
    lines = ["# Danish synonyms from LibreOffice's Danish thesaurus (Foreningen for frit tilgængelige "
             "sprogværktøjer; LGPL-2.1, GPL-2 or MPL-1.1); derived by bot/synonyms.py"]
    head = None
    for raw in thesaurus.splitlines()[1:]:  # the first line names the encoding
        if not raw.startswith("|"):
            head = raw.split("|", 1)[0].strip()
            continue
        if head is None or len(terms(head)) != 1:
            continue
        words = [_LABEL.sub("", w).strip() for w in raw.split("|")[1:] if _NARROWER not in w]
        words = [w for w in words if len(terms(w)) == 1]
        if words:
            lines.append("|".join([head, *words]))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    source = Path(sys.argv[1])
    target = Path(str(resources.files("bot").joinpath(RESOURCE)))
    target.write_bytes(gzip.compress(derive(source.read_text(encoding="utf-8")).encode("utf-8"), mtime=0))
    print(f"{target}: {len(_table.__wrapped__())} stems with synonyms")
