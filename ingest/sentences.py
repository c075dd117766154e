"""Sentence boundaries for Japanese and English text, as exact character spans.

The chunker packs sentences into token-bounded chunks, so it needs spans that point back into
the input rather than cleaned-up strings. :func:`iter_sentence_spans` yields ``(start, end)``
pairs that *partition* the text: they are contiguous, the first starts at 0, the last ends at
``len(text)``, and each sentence keeps the whitespace that follows it. Joining
``text[start:end]`` over all spans gives the input back unchanged.

Boundaries:

- after a sentence end ``。 ！ ？ ． ｡`` (Japanese: no space needed), plus any closing
  quotes/brackets that follow it (``」 』 ） ) ” ’ "`` ...), except a closed quotation
  followed by the quotative と/っ (「はい。」と言った is one sentence);
- after ``! ?`` (half-width) when followed by whitespace + a sentence start (capital letter,
  digit, opening quote/bracket, CJK character), directly by a CJK character, or by the end;
- after ``.`` when followed by whitespace + a sentence start, unless the word before it is a
  known abbreviation ("e.g.", "Mr.", "approx."; "No.", "Fig.", "p." only before a number), a
  dotted acronym ("U.S.", "i.e.") or a single capital letter (an initial, "J. Smith").
  Decimals ("3.14") and versions ("v1.2") have no space after the dot, so they never split;
- at a line break, except where it looks like an English hard wrap (a Latin letter, digit or
  comma before the newline and a lower-case Latin letter after it). Japanese text, lists, table
  lines and code lines therefore split per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["ABBREVIATIONS", "NUMBER_ABBREVIATIONS", "iter_sentence_spans", "split_sentences"]

#: Lower-cased words (without their final dot) after which "." does not end a sentence: titles,
#: Latin shorthands, months, dotted forms. "etc." and company suffixes ("Inc.", "Ltd.") are absent
#: on purpose: followed by a capital they usually do end a sentence.
ABBREVIATIONS: frozenset[str] = frozenset(
    {
        "e.g", "i.e", "cf", "vs", "viz", "al", "approx", "ca", "esp", "incl", "excl",
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "rev", "gen", "col", "lt", "sgt",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "u.s", "u.k", "u.n", "e.u", "a.m", "p.m", "ph.d", "m.d", "b.a", "m.a", "b.sc", "m.sc",
    }
)  # fmt: skip
#: Abbreviations that only precede a number ("No. 5", "Fig. 3", "p. 12"): "No. The" does split.
NUMBER_ABBREVIATIONS: frozenset[str] = frozenset(
    {"no", "nos", "vol", "vols", "p", "pp", "fig", "figs", "eq", "eqs", "ch", "sec", "art", "ref"}
)

_CLOSERS = "\"'”’)]}」』）］｝〉》】〕〙〛"
_OPENERS = "\"'“‘([{「『（［｛〈《【〔"
# A run of sentence-final punctuation, then any closing quotes/brackets.
_CANDIDATE = re.compile(r"[.!?。！？．｡…‼⁇⁈⁉]+[" + re.escape(_CLOSERS) + r"]*|\n")
_DOTTED_ACRONYM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x3040 <= o <= 0x30FF  # Hiragana, Katakana
        or 0x3400 <= o <= 0x4DBF  # CJK Extension A
        or 0x4E00 <= o <= 0x9FFF  # CJK Unified Ideographs
        or 0xF900 <= o <= 0xFAFF  # CJK Compatibility Ideographs
        or 0xFF66 <= o <= 0xFF9F  # half-width Katakana
        or 0xAC00 <= o <= 0xD7AF  # Hangul syllables
        or 0x20000 <= o <= 0x3FFFF  # CJK Extensions B+
    )


def _starts_sentence(ch: str) -> bool:
    return ch.isupper() or ch.isdigit() or ch in _OPENERS or _is_cjk(ch)


def _word_before(text: str, end: int) -> str:
    """The whitespace-delimited word that ends at ``end`` (exclusive), without leading openers."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip(_OPENERS)


def _skip_space(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos].isspace():
        pos += 1
    return pos


def _is_boundary(text: str, m: re.Match[str]) -> bool:
    """Whether the candidate match ``m`` (punctuation run or newline) ends a sentence."""
    s, e = m.start(), m.end()
    n = len(text)
    punct = m.group()
    if punct == "\n":
        if s == 0 or e >= n:
            return True
        before, after = text[s - 1], text[e]
        hard_wrap = (before.isascii() and (before.isalnum() or before in ",;-")) and (
            after.isascii() and after.islower()
        )
        return not hard_wrap
    if any(c in "。！？．｡‼⁇⁈⁉" for c in punct):
        # 「…。」と言った: a quotation followed by a quotative particle is one sentence.
        return not (punct[-1] in _CLOSERS and e < n and text[e] in "とっ")
    if e >= n:
        return True
    nxt = text[e]
    if not nxt.isspace():
        # "!?" directly followed by Japanese text; never "." ("3.14", "v1.2", "U.S.").
        return _is_cjk(nxt) and set(punct.rstrip(_CLOSERS)) <= {"!", "?"}
    nxt_start = _skip_space(text, e)
    if nxt_start >= n:
        return True
    if not _starts_sentence(text[nxt_start]):
        return False
    if punct.startswith(".") and len(punct.rstrip(_CLOSERS)) == 1:
        word = _word_before(text, s)
        low = word.lower()
        if low in ABBREVIATIONS or _DOTTED_ACRONYM.fullmatch(word):
            return False
        if low in NUMBER_ABBREVIATIONS and text[nxt_start].isdigit():
            return False
        if len(word) == 1 and word.isupper():  # an initial: "J. Smith"
            return False
    return True


def iter_sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """Yield ``(start, end)`` spans that partition ``text`` into sentences (see module doc).

    Lazy: a huge block is split without building a list of all its sentences. An empty text
    yields nothing; a text of only whitespace yields one span.
    """
    n = len(text)
    start = 0
    for m in _CANDIDATE.finditer(text):
        if m.start() < start or not _is_boundary(text, m):
            continue
        end = _skip_space(text, m.end())
        if end > start:
            yield start, end
            start = end
    if start < n:
        yield start, n


def split_sentences(text: str) -> list[tuple[int, int]]:
    """All sentence spans of ``text`` as a list; see :func:`iter_sentence_spans`."""
    return list(iter_sentence_spans(text))
