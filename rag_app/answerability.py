"""Lexical support: how much of what a question asks about appears in what retrieval found.

A question about something the documents never mention ("the Nagoya office's address" over a
corpus that only knows Tokyo and Osaka) still retrieves on-topic chunks with a high cosine, and
an extractive or generative answer then quotes the nearest thing. What those chunks lack is the
question's *specific* terms. So: take the question's terms with the index's own analyzer (the
BM25 one: Sudachi for Japanese, stemmed words for English; particles and stopwords dropped),
weigh each by its BM25 idf over the corpus (rare terms carry the question), and measure the share
of that weight no retrieved chunk contains: ``unsupported_share`` in [0, 1]. A term the corpus
does not hold at all gets the largest weight a term can have.

A chunk supports the terms of its text and of its document's context line (``support_terms``).
A chunk in the other language supports what a Japanese-English dictionary bridges
(``retrieval.dictionary``): a Japanese chunk the terms of its words' English glosses
(``translated_terms``), an English chunk the Japanese question terms one of whose glosses it
holds whole (``glossed_terms``). When no chunk is in the question's language the check abstains
(``applicable`` False): a dictionary only adds support to a check that applies.

The refusal cut (``AnswerSettings.max_unsupported``) is fitted by ``benchmarks/bench_refusal.py``
on SQuAD and JSQuAD questions whose gold paragraph is removed from the results (near misses:
the rest of the article still comes back), never on docs_corpus/qa.jsonl, which it then reports.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from retrieval.dictionary import TermDictionary, without_asides
from retrieval.names import initialisms
from retrieval.synonyms import Synonyms

# Words that ask rather than name: an answer never contains them, so they cannot be "supported".
# English: the word after "how" (how many/much/long/...); what/which/who/when/where are stopwords
# of the analyzer already. Japanese (Sudachi normalised forms): interrogatives, any term holding
# 何 (何日, 何時間, 何歳, 何円 ...), and light verbs that carry the question's grammar, not its topic.
_HOW_WORD = re.compile(r"(?i)\bhow\s+(?:many|much|long|often|far|old|soon|big|large|frequently)\b")
JA_QUESTION_WORDS = frozenset({
    "幾ら", "幾つ", "どの", "どこ", "何処", "いつ", "何時", "誰", "どう", "どれ", "如何", "どんな", "どちら",
    "どれくらい", "どのくらい", "どの位", "ある", "有る", "成る", "為る", "居る", "出来る", "貰う", "下さる", "よう",
})


# English words that frame an analytical question (compare, drove, highest, during, any...) or
# give instructions to the answerer (assume, round, decimal...): they describe the question's
# form, and a document that answers it need not contain them. Real questions about filings are
# full of them (FinanceBench: "What drove the reduction in SG&A expense as a percent of net sales
# in FY2023?"), and counting them as unsupported refused 16 of 26 answerable ones (BENCHMARKS.md
# "Refusal on real filings"). Matched after the analyzer's own stemming.
EN_PHRASING_WORDS = (
    "any", "between", "during", "compare", "compared", "comparison", "versus", "vs", "drive", "drove",
    "driven", "driver", "drivers", "highest", "lowest", "biggest", "largest", "smallest", "best", "worst",
    "most", "least", "top", "increase", "increased", "decrease", "decreased", "change", "changed", "drop",
    "grow", "growth", "percent", "percentage", "amount", "number", "total", "value", "level", "did", "does",
    "expect", "expected", "according", "based", "report", "reported", "latest", "current", "recent",
    "year", "years", "quarter", "quarterly", "fiscal", "annual", "period", "end", "ended", "ending",
    "assume", "analyst", "primarily", "rely", "relying", "details", "shown", "show", "using", "use",
    "answer", "question", "calculate", "calculation", "round", "rounded", "decimal", "place", "places",
    "give", "provide", "state", "explain", "describe", "summarize", "please", "respect", "respectively",
    "overall", "key", "main", "primary", "significant", "substantially", "also", "such", "there",
    "perform", "performance", "performed", "ratio", "numerator", "denominator", "exclude", "excluding",
    "impact", "effect", "measure", "metric", "among", "bring", "brought", "lost", "lose", "large", "larger",
    "represent", "represented", "historically", "consistent", "consistently",
)
# Period shorthands of questions ("FY2023", "Q2", "Q22023", "FY2023Q1", "FY 2023", "1H22") say which
# report to read; filings write "fiscal 2023" or "the second quarter". A shorthand's year is kept as
# a term (the document context holds the period), the rest is dropped.
_PERIOD_WORDS = frozenset({"fy", "cy", "ytd", "yoy", "qoq"})
_PERIOD = re.compile(r"(?:fy|cy|[hq][1-4]|[1-4][hq])((?:19|20)?\d{2})?(?:[hq][1-4])?|((?:19|20)?\d{2})[hq][1-4]")
_ORDINAL_DAY = re.compile(r"(?:[1-9]|[12]\d|3[01])(?:st|nd|rd|th)")  # "1st July 2022": filings write "July 1, 2022"


class Analyzer(Protocol):
    def tokenize(self, text: str) -> list[str]: ...


def _phrasing(analyzer: Analyzer) -> frozenset[str]:
    return frozenset(analyzer.tokenize(" ".join(EN_PHRASING_WORDS)))


def _period_year(term: str) -> str | None:
    """The year of a period shorthand ("fy2023", "q22023", "1h22" -> "2023", "2023", "2022"), "" for
    one without a year ("fy", "q2"), None for any other term (a plain year "2023" included)."""
    if term in _PERIOD_WORDS:
        return ""
    m = _PERIOD.fullmatch(term)
    if m is None:
        return None
    year = m.group(1) or m.group(2) or ""
    return "20" + year if len(year) == 2 else year


_SENTENCE = re.compile(r"(?<=[.?!])\s+(?=[A-Z(])")
_ABBREVIATION = re.compile(r"\(\s*[A-Z][A-Za-z&]{1,5}\s*\)")  # "days payable outstanding (DPO)"


def question_core(question: str) -> str:
    """The sentences of ``question`` that ask: with several sentences and at least one question
    mark, only those ending in "?" ("What is the FY2018 capex? Round to two decimals." -> the
    first), so instructions and definitions around the question are not terms the documents
    must hold; an abbreviation in parentheses after its words is left out as well."""
    parts = _SENTENCE.split(question.strip())
    asking = [p for p in parts if p.rstrip().endswith("?")]
    core = " ".join(asking) if len(parts) > 1 and asking else question
    return _ABBREVIATION.sub(" ", core)


def question_terms(question: str, analyzer: Analyzer) -> list[str]:
    """The terms of ``question`` that name something (``analyzer``: the index's BM25 analyzer):
    of its asking sentences (``question_core``), without the words that only ask (``how many``,
    何日, いくら ...), the words that frame an analytical question (``EN_PHRASING_WORDS``), and with
    a period shorthand ("FY2023") reduced to its year."""
    text = _HOW_WORD.sub("how", question_core(question))
    phrasing = _phrasing(analyzer)
    out: list[str] = []
    for t in analyzer.tokenize(text):
        if "何" in t or t in JA_QUESTION_WORDS or t in phrasing or _ORDINAL_DAY.fullmatch(t):
            continue
        year = _period_year(t)
        if year is None:
            out.append(t)
        elif year:
            out.append(year)
    return out


class _Chunk(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def doc_context(self) -> str: ...


def support_terms(chunk: _Chunk, analyzer: Analyzer) -> list[str]:
    """The terms a retrieved chunk supports: its text's and its document context line's (title,
    issuer, form, period, file name), so a question's "microsoft", "q3" or "10-k" is matched at
    document level even though a filing's page says "we" or "the Company"; a hyphenated word also
    as one word ("pass-through" supports "passthrough"), and the initials of the context's names
    ("JOHNSON & JOHNSON" supports "jj" and "jnj", "Advanced Micro Devices, Inc." "amd")."""
    text = f"{chunk.doc_context}\n{chunk.text}" if chunk.doc_context else chunk.text
    joined = " ".join(m.group(0).replace("-", "") for m in _HYPHENATED.finditer(text))
    extra = " ".join([joined, *initialisms(chunk.doc_context)]).strip()
    return analyzer.tokenize(text) + (analyzer.tokenize(extra) if extra else [])


_HYPHENATED = re.compile(r"\b[A-Za-z]+(?:-[A-Za-z]+)+\b")


def synonym_terms(question: str, chunk: _Chunk, synonyms: Synonyms, analyzer: Analyzer) -> list[str]:
    """The terms a chunk supports through synonyms: the words of every group that ``question``
    names and the chunk holds in one of its phrases (a cash-flow row "Purchases of property, plant
    and equipment" supports "capital expenditure")."""
    out: list[str] = []
    for group in synonyms.matched_groups(question):
        if synonyms.holds_any(chunk.text, group):
            out.extend(analyzer.tokenize(" ".join(group)))
    return out


def gloss_terms(gloss: str, analyzer: Analyzer) -> list[str]:
    """A gloss's terms, without its parenthesised asides."""
    return analyzer.tokenize(without_asides(gloss))


def translated_terms(terms: Sequence[str], dictionary: TermDictionary, analyzer: Analyzer) -> list[str]:
    """The terms of the glosses of ``terms``' words in the dictionary's source language (a Japanese
    chunk's 監査 -> "inspection", "audit", "judgement"): what the chunk supports in the glosses'
    language. Words the dictionary does not hold add nothing."""
    out: list[str] = []
    for t in dict.fromkeys(terms):
        for g in dictionary.glosses(t):
            out.extend(gloss_terms(g, analyzer))
    return out


def glossed_terms(question_terms: Sequence[str], chunk_terms: set[str], dictionary: TermDictionary,
                  analyzer: Analyzer) -> list[str]:
    """The question terms (in the dictionary's source language) that a chunk in the glosses'
    language supports: one of the term's glosses has every one of its terms in ``chunk_terms``
    (有効期間 "term of validity" needs "term" and "valid"; 証明書 "certificate" needs "certif"),
    the words that frame a question (``EN_PHRASING_WORDS``) left out as they are in questions."""
    phrasing = _phrasing(analyzer)
    out: list[str] = []
    for t in dict.fromkeys(question_terms):
        for g in dictionary.glosses(t):
            words = [w for w in gloss_terms(g, analyzer) if w not in phrasing]  # 月額 "monthly amount"
            if words and all(w in chunk_terms for w in words):
                out.append(t)
                break
    return out


class _LangChunk(_Chunk, Protocol):
    @property
    def lang(self) -> str: ...


def bridged_terms(question_terms: Sequence[str], chunk: _LangChunk, lang: str, dictionary: TermDictionary,
                  analyzer: Analyzer) -> list[str] | None:
    """What a chunk in another language than the question's (``lang``) supports through
    ``dictionary``: its own terms (numbers and Latin-script names are shared) with its glosses'
    terms (a chunk in the dictionary's source language) or the question terms it holds a gloss of
    (a chunk in the glosses' language); None for a language pair the dictionary does not bridge."""
    source, target = dictionary.languages
    own = support_terms(chunk, analyzer)
    if (chunk.lang, lang) == (source, target):
        return own + translated_terms(own, dictionary, analyzer)
    if (chunk.lang, lang) == (target, source):
        return own + glossed_terms(question_terms, set(own), dictionary, analyzer)
    return None


def gloss_table(texts: Sequence[str], dictionary: TermDictionary,
                analyzer: Analyzer) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(word, glosses) for every word of ``texts`` (the analyzer's terms) the dictionary holds,
    in first-seen order: what ``Prompt.glosses`` carries to a generator that matches words."""
    words = dict.fromkeys(t for text in texts for t in analyzer.tokenize(text))
    table = ((w, dictionary.glosses(w)) for w in words)
    return tuple((w, g) for w, g in table if g)


def bm25_idf(df: int, n_docs: int) -> float:
    """BM25's (Lucene) idf: ln(1 + (N - df + 0.5) / (df + 0.5)); > 0 for every df <= N."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


@dataclass(frozen=True, slots=True)
class TermSupport:
    """How well the retrieved chunks cover a question's terms."""

    terms: tuple[str, ...]  # distinct question terms, in question order
    weights: tuple[float, ...]  # idf of each term over the corpus
    unsupported: tuple[str, ...]  # terms no same-language retrieved chunk contains
    absent: tuple[str, ...]  # terms no chunk of the corpus contains (a subset of ``unsupported``)
    unsupported_share: float  # idf mass of ``unsupported`` / idf mass of ``terms``, 0..1
    applicable: bool  # False: no question term, or no retrieved chunk in the question's language

    def refuses(self, max_unsupported: float) -> bool:
        """True when the check applies and more than ``max_unsupported`` of the weight is missing."""
        return self.applicable and self.unsupported_share > max_unsupported


def term_support(question_terms: Sequence[str], context_terms: Sequence[Sequence[str]],
                 doc_freq: Mapping[str, int], n_docs: int) -> TermSupport:
    """Support of ``question_terms`` by ``context_terms`` (the terms of each retrieved chunk in
    the question's language), with corpus document frequencies ``doc_freq`` over ``n_docs``
    chunks (a term missing from ``doc_freq`` has df 0)."""
    terms = tuple(dict.fromkeys(t for t in question_terms if t))
    if not terms or not context_terms or n_docs <= 0:
        return TermSupport(terms, (), (), (), 0.0, False)
    seen = set().union(*(set(c) for c in context_terms))
    weights = tuple(bm25_idf(min(doc_freq.get(t, 0), n_docs), n_docs) for t in terms)
    unsupported = tuple(t for t in terms if t not in seen)
    absent = tuple(t for t in unsupported if doc_freq.get(t, 0) <= 0)
    missing = sum(w for t, w in zip(terms, weights, strict=True) if t not in seen)
    return TermSupport(terms, weights, unsupported, absent, missing / sum(weights), True)


__all__ = ["JA_QUESTION_WORDS", "TermSupport", "bm25_idf", "bridged_terms", "gloss_table", "gloss_terms", "glossed_terms", "question_core",
           "question_terms", "support_terms", "synonym_terms", "term_support", "translated_terms"]
