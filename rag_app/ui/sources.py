"""Source cards: which passages an answer cites, which of their sentences, and how to show them.

An answer's ``[n]`` names context block ``n`` (``Answer.contexts[n - 1]``). The text before a
marker (back to the previous marker) is the *claim* it supports; the block's sentences that
share most of their character bigrams with a claim are the *cited sentences*, highlighted on the
card. Bigrams of characters work the same for Japanese (no spaces) and English.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.sentences import split_sentences
from rag_app.types import Answer
from retrieval.types import Hit

MARKER = re.compile(r"\[(\d+)\]")
MARKER_RUN = re.compile(r"(?:\s*\[\d+\])+")
CITED_OVERLAP = 0.75  # share of a sentence's bigrams found in one claim that makes it cited
WEAK_OVERLAP = 0.25  # when no sentence reaches CITED_OVERLAP, the best one above this is cited
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|$<>~])")

Span = tuple[int, int]  # [start, end) character offsets into a chunk's text


@dataclass(frozen=True, slots=True)
class SourceCard:
    """One context block as the page shows it. ``n`` is its [n]; ``cited`` whether the answer
    cites it; ``spans`` the cited sentences in ``hit.chunk.text``."""

    n: int
    hit: Hit
    cited: bool
    spans: tuple[Span, ...] = ()

    @property
    def location(self) -> str:
        return location_label(self.hit)

    @property
    def cited_text(self) -> list[str]:
        return [self.hit.chunk.text[a:b].strip() for a, b in self.spans]


def location_label(hit: Hit) -> str:
    """"page 3" / "slide 2" / "sheet Bands" / "" — where in its file the chunk starts."""
    c = hit.chunk
    if c.file_type == "pptx" and c.page:
        return f"slide {c.page}"
    if c.file_type == "xlsx":
        return f"sheet {c.sheet}" if c.sheet else (f"sheet {c.page}" if c.page else "")
    return f"page {c.page}" if c.page and c.file_type in ("pdf", "docx") else ""


def claims_by_block(text: str) -> dict[int, list[str]]:
    """{n: the stretches of ``text`` that end in a ``[n]`` marker}; a run of markers ("[1][2]")
    gives its stretch to each of them."""
    out: dict[int, list[str]] = {}
    last = 0
    for run in MARKER_RUN.finditer(text):
        claim = text[last:run.start()].strip()
        if claim:
            for m in MARKER.finditer(run.group(0)):
                out.setdefault(int(m.group(1)), []).append(claim)
        last = run.end()
    return out


def _bigrams(s: str) -> set[str]:
    """Character bigrams of ``s`` without whitespace; of a table row ("Col: value | Col: value")
    only the values count: rows share their column names."""
    if "|" in s:
        s = " ".join(cell.split(": ", 1)[-1] for cell in s.split("|"))
    t = re.sub(r"\s+", "", s.casefold())
    return {t[i:i + 2] for i in range(len(t) - 1)} if len(t) > 1 else {t} if t else set()


def sentence_spans(text: str) -> list[Span]:
    """Sentences of ``text``, a line break ending one too (table rows, list items)."""
    spans: list[Span] = []
    pos = 0
    for line in text.split("\n"):
        for a, b in split_sentences(line):
            if line[a:b].strip():
                spans.append((pos + a, pos + b))
        pos += len(line) + 1
    return spans


def cited_spans(chunk_text: str, claims: Sequence[str]) -> tuple[Span, ...]:
    """The sentences of ``chunk_text`` that the ``claims`` quote or paraphrase: each sentence is
    scored by the share of its bigrams found in its best-matching claim (one claim, so table rows
    that share only their column names with a quoted row do not pass)."""
    if not claims:
        return ()
    claim_grams = [_bigrams(c) for c in claims]
    scored = []
    for a, b in sentence_spans(chunk_text):
        grams = _bigrams(chunk_text[a:b])
        if grams:
            scored.append((max(len(grams & cg) for cg in claim_grams) / len(grams), (a, b)))
    strong = tuple(span for score, span in scored if score >= CITED_OVERLAP)
    if strong or not scored:
        return strong
    best = max(scored)
    return (best[1],) if best[0] >= WEAK_OVERLAP else ()


def source_cards(answer: Answer) -> list[SourceCard]:
    """A card per context block, in [n] order; cited ones carry their cited sentences."""
    claims = claims_by_block(answer.text)
    cited = {c.n for c in answer.citations}
    return [SourceCard(n=i, hit=h, cited=i in cited, spans=cited_spans(h.chunk.text, claims.get(i, ())) if i in cited else ())
            for i, h in enumerate(answer.contexts, start=1)]


def anchor_id(turn_id: int, n: int) -> str:
    return f"src-{turn_id}-{n}"


def escape_markdown(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def answer_markdown(text: str, turn_id: int, valid: Sequence[int]) -> str:
    """The answer as Markdown: text escaped (a document's ``*`` or ``$`` stays literal), each valid
    ``[n]`` a link to its card's anchor. Line breaks are kept."""
    ok = set(valid)
    parts: list[str] = []
    last = 0
    for m in MARKER.finditer(text):
        parts.append(escape_markdown(text[last:m.start()]))
        n = int(m.group(1))
        parts.append(f"[\\[{n}\\]](#{anchor_id(turn_id, n)})" if n in ok else escape_markdown(m.group(0)))
        last = m.end()
    parts.append(escape_markdown(text[last:]))
    return "".join(parts).replace("\n", "  \n")


def highlight_html(text: str, spans: Sequence[Span]) -> str:
    """``text`` as HTML (escaped; line breaks as <br>) with ``spans`` in <mark>. One HTML line, so
    Markdown never reinterprets it."""
    out: list[str] = []
    pos = 0
    for a, b in sorted(spans):
        if a < pos:
            continue
        out += [_html_text(text[pos:a]), "<mark>", _html_text(text[a:b]), "</mark>"]
        pos = b
    out.append(_html_text(text[pos:]))
    return "".join(out)


def _html_text(s: str) -> str:
    return html.escape(s).replace("$", "&#36;").replace("\n", "<br>")
