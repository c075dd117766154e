"""A Japanese-English dictionary: the English glosses of a Japanese word, for the checks that
must match a question's words against a chunk written in the other language.

A bilingual company's documents answer questions asked in the other language ("How long are
audit logs retained?" over a Japanese backup policy that says 監査ログ ... 保存). Lexically the two
share nothing, so a check that counts the question's words in what retrieval found (the answer
side's support gate, ``rag_app.answerability``) refused 16 of docs_corpus/qa.jsonl's 106
answerable questions whose document is in the other language (BENCHMARKS.md "Cross-language
support"). A dictionary bridges them: a Japanese word supports the English words of its glosses.

The built-in dictionary is JMdict (the EDRDG's Japanese-Multilingual Dictionary, CC BY-SA 4.0;
the SQLite build of the ``jamdict-data`` package, read through ``jamdict``): exact lookups on its
indexed kanji and kana forms, ~0.5 ms each, cached per word.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

INSTALL_HINT = 'pip install "jamdict==0.1a11.post2" "jamdict-data==1.5"'
BUILTIN = ("jmdict",)
OFF = ("", "none", "off")


@runtime_checkable
class TermDictionary(Protocol):
    """Glosses of words of ``languages[0]`` in ``languages[1]``."""

    languages: tuple[str, str]  # (the looked-up words' language, the glosses' language): ("ja", "en")

    def glosses(self, word: str) -> tuple[str, ...]:
        """The glosses of ``word`` (most common sense first); () for a word it does not hold."""
        ...


@dataclass
class JMdict:
    """JMdict through jamdict. Cheap to construct: the database opens on the first lookup. Safe to
    share between threads: the cache is locked, and each thread opens its own jamdict (an SQLite
    connection serves only the thread that opened it; a connection per lookup costs 3x)."""

    max_senses: int = 3  # senses per entry whose glosses count: later senses are rare or figurative
    cache_size: int = 50_000  # words; a corpus's vocabulary is finite
    # shortest word looked up: a single kanji is mostly a compound's part (火 of 火曜日 "Tuesday"
    # glossed "fire", 版 of 日本語版 "edition") and its glosses would support unrelated words
    min_chars: int = 2
    languages: tuple[str, str] = ("ja", "en")
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False)
    _cache: OrderedDict[str, tuple[str, ...]] = field(default_factory=OrderedDict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _open(self) -> Any:
        jam = getattr(self._local, "jam", None)
        if jam is None:
            try:
                from jamdict import Jamdict
            except ImportError as e:
                raise ImportError(f"the JMdict dictionary needs jamdict: {INSTALL_HINT} "
                                  "(or set the answer setting dictionary = \"off\")") from e
            jam = Jamdict()
            if not jam.ready:
                raise RuntimeError(f"jamdict found no JMdict database: {INSTALL_HINT}")
            self._local.jam = jam
        return jam

    def glosses(self, word: str) -> tuple[str, ...]:
        with self._lock:
            hit = self._cache.get(word)
            if hit is not None:
                self._cache.move_to_end(word)
                return hit
        found = self._lookup(word)
        with self._lock:
            self._cache[word] = found
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return found

    def _lookup(self, word: str) -> tuple[str, ...]:
        if len(word) < self.min_chars or word.isascii():
            return ()
        result = self._open().lookup(word, strict_lookup=True, lookup_chars=False, lookup_ne=False)
        out = [g.text for e in result.entries for s in e.senses[: self.max_senses] for g in s.gloss
               if g.lang in ("", "eng")]
        return tuple(dict.fromkeys(out))


_ASIDE = re.compile(r"\([^)]*\)")


def without_asides(gloss: str) -> str:
    """A gloss without its parenthesised asides: "certificate (usually of proof of something)" ->
    "certificate " (the asides explain; a text that means the word need not hold them)."""
    return _ASIDE.sub(" ", gloss)


def load_dictionary(spec: str) -> TermDictionary | None:
    """The dictionary an answer setting names: "jmdict" (built in) or "off" (None)."""
    key = spec.strip().lower()
    if key in OFF:
        return None
    if key == "jmdict":
        return JMdict()
    raise ValueError(f"unknown dictionary {spec!r}; allowed: {', '.join(BUILTIN)} or off")


__all__ = ["INSTALL_HINT", "JMdict", "TermDictionary", "load_dictionary", "without_asides"]
