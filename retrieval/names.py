"""Names a question asks about, and whether the retrieved chunks know them.

"Which debt securities does American Express have registered?" over a corpus without American
Express retrieves another issuer's cover page, which holds every other word of the question; the
idf-weighted share of unsupported terms (the answer side's lexical gate) stays under its cut,
because two words are missing out of twelve. The name is what the question is about, so a name
that no retrieved chunk holds (in its text or its document context: title, issuer, file name)
refuses on its own (``missing_names``) (measured on FinanceBench questions about companies outside the index:
BENCHMARKS.md "Real filings, part 3").

A name is what English questions mark as one: a capitalised word run before a possessive
("Microsoft's", "American Express'"), the subject of a yes/no question ("Has Verizon
increased ..."), or what "For X," puts first. Other capitalised words (metrics such as "EPS" or
"SG&A", the first word of a sentence) are left to the term gate. A name also matches a context's
initials ("JnJ" for JOHNSON & JOHNSON, :func:`initialisms`) or an abbreviation of its words
("JPM", "AMEX"). The hybrid retriever also fuses the candidates whose document context knows an
asked name as one more list (``HybridRetriever(name_weight=...)``), so a question about Boeing
reads Boeing's filings before another company's.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Protocol

from ingest.doc_context import SEPARATOR

_NAME_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_NOT_INITIALS = frozenset({"inc", "corp", "corporation", "co", "company", "plc", "ltd", "llc", "the", "and", "of", "sa",
                           "nv", "ag", "holdings", "group"})


def initialisms(doc_context: str) -> list[str]:
    """Initials of each name in a document context line ("JOHNSON & JOHNSON | Form 10-K | ...":
    "jj" and the spoken "jnj"), for fields of 2-6 capitalised words of 2+ letters (a name, not
    "fiscal year ended ..." or "Form 10-K"), of their first 2-4 words (the name leads a file-name
    field: "JOHNSON JOHNSON 2022Q4 EARNINGS"); a question says "JnJ" or "AMD" where the filing
    names its issuer in full."""
    out = []
    for field in doc_context.split(SEPARATOR):
        words = [w.lower() for w in _NAME_WORD.findall(field) if len(w) > 1 and w.lower() not in _NOT_INITIALS]
        if 2 <= len(words) <= 6 and all(w[0].isupper() for w in _NAME_WORD.findall(field) if len(w) > 1):
            initials = "".join(w[0] for w in words)
            out += [initials[:n] for n in range(2, min(4, len(initials)) + 1)]  # the name may lead the field
            out.append(f"{initials[0]}n{initials[1]}")
    return out


_WORD = r"(?:[A-Z]|\d+[A-Z])[\w&.\-]*"  # "Microsoft", "AMCOR", "JnJ", "3M"
_RUN = rf"{_WORD}(?:\s+{_WORD}){{0,3}}"
_POSSESSIVE = re.compile(rf"(?<![\w&.\-])({_RUN})(?:'s|’s|'|’)(?=[\s,.?])")
_SUBJECT = re.compile(rf"^\W*(?:Has|Have|Had|Did|Does|Do|Is|Was|Were|Are|Will|Can)\s+({_RUN})\s+[a-z]")
_FOR = re.compile(rf"^\W*(?:For|At|In)\s+({_RUN})\s*,")
_TAIL = re.compile(rf"\b(?:for|of|at)\s+({_RUN})\s*\?")  # "... capital expenditure for 3M?"
# capitalised words that open a question, not a name ("What Was AMCOR's", "Are Best Buy's")
_LEADING = frozenset({"what", "which", "who", "whom", "whose", "how", "why", "when", "where", "has", "have", "had",
                      "did", "does", "do", "is", "was", "were", "are", "will", "can", "could", "should", "would",
                      "in", "for", "at", "by", "of", "if", "as", "on", "to", "and", "or", "but", "so", "here",
                      "let", "please", "give", "tell", "compare"})
_NOT_NAMES = frozenset({"the", "a", "an", "it", "its", "they", "there", "this", "that", "any", "all", "fy", "q1", "q2",
                        "q3", "q4", "company", "management", "we", "our", "us"})


def asked_names(question: str) -> list[str]:
    """The names ``question`` asks about (see the module docstring), in order, without duplicates."""
    found = [m.group(1) for rx in (_POSSESSIVE, _SUBJECT, _FOR, _TAIL) for m in rx.finditer(question)]
    out: dict[str, None] = {}
    for run in found:
        words = run.strip(" .-").split()
        while words and words[0].lower() in _LEADING:
            words = words[1:]
        name = " ".join(words)
        if name and name.lower() not in _NOT_NAMES and not name.lower().startswith(("the ", "fy")):
            out[name] = None
    return list(out)


def _fold(text: str) -> str:
    """Lower case without accents and punctuation runs: "Beyoncé's" ~ "beyonce s"."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " " + " ".join(re.findall(r"[a-z0-9]+", text)) + " "


class _Chunk(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def doc_context(self) -> str: ...


def knows_name(name: str, text: str, doc_context: str) -> bool:
    """True when a chunk (its ``text`` and ``doc_context``) holds ``name`` as whole words (accents
    and case folded), as its context's initials, or abbreviated from the context's words."""
    folded = _fold(name)
    if folded in _fold(f"{doc_context}\n{text}"):
        return True
    return folded.strip() in initialisms(doc_context) or _shortens(folded.strip(), _fold(doc_context).split())


def name_candidates(contexts: Sequence[str], names: Sequence[str]) -> list[int]:
    """Indexes of ``contexts`` (document context lines, best candidate first) that know one of
    ``names`` (:func:`knows_name` on the context alone: the document is about that name)."""
    if not names:
        return []
    return [i for i, c in enumerate(contexts) if c and any(knows_name(n, "", c) for n in names)]


def missing_names(question: str, chunks: Sequence[_Chunk]) -> list[str]:
    """The names of ``question`` that none of ``chunks`` knows (:func:`knows_name`); empty when
    all are known, the question names none or there are no chunks."""
    if not chunks:
        return []
    return [n for n in asked_names(question) if not any(knows_name(n, c.text, c.doc_context) for c in chunks)]


def _shortens(name: str, words: Sequence[str]) -> bool:
    """True when a one-word ``name`` abbreviates ``words`` (a folded context line): the start of
    one word ("jpm" for JPMORGAN) or the starts of two consecutive ones ("amex" for AMERICAN
    EXPRESS), 3+ letters in all."""
    if " " in name or len(name) < 3:
        return False
    if any(w.startswith(name) for w in words):
        return True
    return any(name[:i] and words[j].startswith(name[:i]) and words[j + 1].startswith(name[i:])
               for j in range(len(words) - 1) for i in range(2, len(name) - 1))


__all__ = ["asked_names", "initialisms", "knows_name", "missing_names", "name_candidates"]
