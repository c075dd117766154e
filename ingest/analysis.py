"""Analyzers: text -> BM25 terms, for Japanese, English and text that mixes them.

``MultilingualAnalyzer`` (the default): after NFKC, a text without Japanese script goes through
a word regex, lowercasing, stopwords and Snowball stemming (PyStemmer; ~10x faster than
Sudachi). A text with kana/kanji goes to SudachiPy (``sudachidict-core``) whole: normalised
forms, particles/auxiliaries/symbols/whitespace dropped by part of speech; its Latin-script
morphemes take the English path, so "running" in a Japanese sentence becomes "run" as in an
English one (Sudachi itself would normalise it to ランニング).

``name`` is written into the index manifest: change it (bump ``/vN``) whenever the terms an
analyzer produces change, so an index built with old terms is rebuilt rather than silently
queried with new ones.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, Literal, Protocol, runtime_checkable

JaUnits = Literal["A", "B", "C", "A+C"]
JA_UNITS: tuple[str, ...] = ("A", "B", "C", "A+C")

# Japanese script: iteration marks 々〆〇〻, hiragana, katakana (incl. ー and small-kana
# extension), CJK unified ideographs (+ ext A, compatibility, ext B..F).
_JA_CLASS = (
    "\u3005-\u3007\u303b\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
)
_JA_CHAR_RE = re.compile(f"[{_JA_CLASS}]")
_WORD_RE = re.compile(r"[^\W_]+")

# Sudachi rejects inputs over ~49 kB of UTF-8 (a kanji is 3 bytes, ext-B 4): longer texts
# are cut into pieces of at most this many chars.
_SUDACHI_MAX_CHARS = 8000

# Parts of speech (first level) that carry no retrieval signal.
_DROPPED_POS: tuple[str, ...] = ("助詞", "助動詞", "補助記号", "空白")

# A small English stopword list (function words only; content words are never dropped).
ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    """
    a an and are as at be been being but by can could did do does doing for from had has have
    having he her hers him his how i if in into is it its itself me my of on or our ours she
    should so than that the their theirs them then there these they this those to too us was we
    were what when where which while who whom why will with would you your yours s t
    """.split()  # noqa: SIM905 - a word list reads better than 80 quoted strings
)


@runtime_checkable
class Analyzer(Protocol):
    """Turns text into index/query terms. ``name`` is a stable, versioned id."""

    name: str

    def tokenize(self, text: str) -> list[str]: ...

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]: ...


def has_japanese(text: str) -> bool:
    return _JA_CHAR_RE.search(text) is not None


def latin_terms(
    words: Iterable[str], stem: Callable[[list[str]], list[str]], stopwords: frozenset[str]
) -> list[str]:
    """Lowercased, stop-worded, stemmed terms of already-split words (NFKC applied by caller)."""
    kept = [w for w in (w.lower() for w in words) if w not in stopwords]
    return stem(kept) if kept else []


def _sudachi_pieces(text: str, limit: int = _SUDACHI_MAX_CHARS) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` chars for Sudachi, preferably after a
    newline, else after 。, else after a space; a hard cut only when none is in the window."""
    pieces: list[str] = []
    start, n = 0, len(text)
    while n - start > limit:
        window = text[start : start + limit]
        cut = max(window.rfind("\n"), window.rfind("。"))
        if cut < limit // 2:
            cut = max(cut, window.rfind(" "))
        end = start + (cut + 1 if cut > 0 else limit)
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces


class _SudachiState:
    """Per-thread Sudachi tokenizer + POS matcher (Sudachi objects are not thread-safe)."""

    def __init__(self, mode: str) -> None:
        try:
            from sudachipy import Dictionary
        except ImportError as e:  # pragma: no cover - sudachipy is a core dependency
            raise ImportError(
                "MultilingualAnalyzer needs SudachiPy: pip install sudachipy==0.7.0 sudachidict-core"
            ) from e
        # ``fields`` loads only what we read: smaller and faster than the full entries.
        self.dictionary = Dictionary(dict="core")
        self.tokenizer = self.dictionary.tokenizer(mode=mode, fields={"pos", "normalized_form", "split_a"})
        self.dropped = self.dictionary.pos_matcher([(p,) for p in _DROPPED_POS])


class MultilingualAnalyzer:
    """Japanese (SudachiPy) + English/Latin (regex, stopwords, Snowball) analyzer.

    ``ja_units`` picks the Sudachi split mode: "A" (shortest units: 東京/都), "B", "C"
    (longest: 東京都), or "A+C": each C unit plus, when it is a compound, its A parts
    (東京都 -> 東京都, 東京, 都), so both the compound and its parts match.
    """

    def __init__(self, ja_units: JaUnits = "A+C", stem_language: str = "english") -> None:
        if ja_units not in JA_UNITS:
            raise ValueError(f"ja_units={ja_units!r} is not one of {JA_UNITS}")
        self.ja_units: JaUnits = ja_units
        self.stem_language = stem_language
        units = ja_units.lower()
        self.name = f"ja-sudachi-{units}+en-snowball/v1"
        if stem_language != "english":
            self.name = f"ja-sudachi-{units}+{stem_language}-snowball/v1"
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"MultilingualAnalyzer(ja_units={self.ja_units!r}, name={self.name!r})"

    # -- per-thread heavy objects (created on first use) --------------------------------------
    def _sudachi(self) -> _SudachiState:
        state: _SudachiState | None = getattr(self._local, "sudachi", None)
        if state is None:
            state = _SudachiState("C" if self.ja_units == "A+C" else self.ja_units)
            self._local.sudachi = state
        return state

    def _stem(self) -> Callable[[list[str]], list[str]]:
        stem: Callable[[list[str]], list[str]] | None = getattr(self._local, "stem", None)
        if stem is None:
            try:
                import Stemmer
            except ImportError as e:  # pragma: no cover - PyStemmer is a core dependency
                raise ImportError("MultilingualAnalyzer needs PyStemmer: pip install PyStemmer") from e
            stem = Stemmer.Stemmer(self.stem_language).stemWords
            self._local.stem = stem
        return stem

    # -- analysis -------------------------------------------------------------------------------
    def _mixed_terms(self, text: str) -> list[str]:
        """Terms of a text that contains Japanese: Sudachi over the whole text (particles
        need their context: the で in "Pythonで" is only a particle after a noun), with
        Latin-script morphemes sent through the English path instead of Sudachi's normaliser."""
        state = self._sudachi()
        tokenizer, dropped = state.tokenizer, state.dropped
        with_parts = self.ja_units == "A+C"
        split_a: Any = None
        if with_parts:
            from sudachipy import SplitMode

            split_a = SplitMode.A
        terms: list[str] = []
        words: list[str] = []
        for piece in _sudachi_pieces(text):
            for m in tokenizer.tokenize(piece):
                if dropped(m):
                    continue
                surface = m.surface()
                if surface.isascii() or _JA_CHAR_RE.search(surface) is None:
                    words.extend(_WORD_RE.findall(surface))  # "running", "ChatGPT", "3.14"
                    continue
                terms.append(m.normalized_form().lower())
                if with_parts:
                    parts = m.split(split_a)
                    if len(parts) > 1:
                        terms.extend(p.normalized_form().lower() for p in parts if not dropped(p))
        if words:
            terms.extend(latin_terms(words, self._stem(), ENGLISH_STOPWORDS))
        return terms

    def tokenize(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text)
        if has_japanese(text):
            return self._mixed_terms(text)
        return latin_terms(_WORD_RE.findall(text), self._stem(), ENGLISH_STOPWORDS)

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]


class WhitespaceAnalyzer:
    """``text.lower().split()``: the naive baseline that benchmarks compare against."""

    name = "whitespace/v1"

    def tokenize(self, text: str) -> list[str]:
        return text.lower().split()

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [t.lower().split() for t in texts]


DEFAULT_ANALYZER = "ja-sudachi-a+c+en-snowball/v1"

_REGISTRY: dict[str, Callable[[], Analyzer]] = {
    "ja-sudachi-a+c+en-snowball/v1": lambda: MultilingualAnalyzer("A+C"),
    "ja-sudachi-a+en-snowball/v1": lambda: MultilingualAnalyzer("A"),
    "ja-sudachi-b+en-snowball/v1": lambda: MultilingualAnalyzer("B"),
    "ja-sudachi-c+en-snowball/v1": lambda: MultilingualAnalyzer("C"),
    "whitespace/v1": WhitespaceAnalyzer,
}
# Short aliases accepted on the command line.
_ALIASES: dict[str, str] = {
    "multilingual": DEFAULT_ANALYZER,
    "default": DEFAULT_ANALYZER,
    "whitespace": "whitespace/v1",
}


def analyzer_names() -> tuple[str, ...]:
    return tuple(_REGISTRY) + tuple(_ALIASES)


def get_analyzer(name: str = DEFAULT_ANALYZER) -> Analyzer:
    """The analyzer with this manifest ``name`` (or a short alias: "multilingual", "whitespace")."""
    key = _ALIASES.get(name, name)
    factory = _REGISTRY.get(key)
    if factory is None:
        raise ValueError(
            f"unknown analyzer {name!r}; allowed: {', '.join(analyzer_names())} "
            "(an index built with another analyzer must be rebuilt with one of these)"
        )
    return factory()
