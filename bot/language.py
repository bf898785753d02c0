"""Is a question Danish or English? Stopword counts decide; Danish letters and ties go to Danish."""

import re

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_DANISH = {
    "og", "i", "at", "det", "er", "en", "til", "på", "de", "med", "for", "af", "ikke", "der", "som", "har",
    "hvad", "hvem", "hvor", "hvornår", "hvorfor", "hvordan", "hvilke", "hvilken", "kan", "skal", "må", "om",
    "den", "et", "fra", "eller", "bruger", "mange", "jeg", "vi", "man", "sig", "også", "hvis", "når",
    "forvaltningen", "står", "nogen", "noget", "dig", "din", "mig",
}
_ENGLISH = {
    "the", "and", "of", "to", "in", "is", "are", "what", "who", "when", "why", "how", "does", "do", "can",
    "a", "an", "for", "on", "with", "which", "many", "much", "it", "its", "be", "was", "were", "has",
    "have", "did", "should", "must", "may", "this", "that", "from", "by", "about", "not", "any", "there",
}


def detect_language(text: str) -> str:
    words = [w.lower() for w in _WORD.findall(text)]
    danish = sum(w in _DANISH for w in words) + 2 * bool(re.search(r"[æøåÆØÅ]", text))
    english = sum(w in _ENGLISH for w in words)
    return "en" if english > danish else "da"
