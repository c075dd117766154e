"""Answer-quality metrics: pure functions over answer and gold strings, the answer-language
check, and the per-(generator, set) summary over per-question records (``bench_answer.py``).

English: SQuAD v1.1's official normalisation (lower case, drop ASCII punctuation and the articles
a/an/the, collapse whitespace), exact match and token F1. Japanese: NFKC, lower case, drop
whitespace and punctuation (Unicode categories P*), exact match and character F1 (the usual
JSQuAD/JGLUE scoring: Japanese has no spaces to split on). Citation markers (``[1]``, ``［１］``,
``【1】``, ``[1, 2]``, ``[1-3]``) are removed before either. Scores are maxima over the gold
answers (SQuAD gives several per question).
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ingest.lang import detect_lang
from rag_app.citations import MARKER_RE

_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)
# Hiragana, katakana, CJK ideographs (+ extension A), half-width katakana
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")

# Refusal reasons set by RAG before any generator call (the generator's timings are then 0)
NO_GENERATION_REASONS = ("no_hits", "low_relevance", "period_not_found", "name_not_found", "unsupported_terms")


def strip_citations(text: str) -> str:
    """``text`` without citation markers (the blanks before a marker go with it)."""
    return re.sub(r"[ \t]*" + MARKER_RE.pattern, "", text)


def has_cjk(text: str) -> bool:
    return bool(_CJK_RE.search(text))


def scoring_lang(lang: str, golds: Iterable[str]) -> str:
    """"ja" (character F1) when the question is Japanese or any gold answer has Japanese script,
    else "en" (token F1)."""
    return "ja" if lang == "ja" or any(has_cjk(g) for g in golds) else "en"


def normalize_en(text: str) -> str:
    """SQuAD v1.1 ``normalize_answer`` after removing citation markers."""
    s = strip_citations(text).lower()
    s = "".join(ch for ch in s if ch not in _ASCII_PUNCT)
    s = _ARTICLES_RE.sub(" ", s)
    return " ".join(s.split())


def normalize_ja(text: str) -> str:
    """NFKC, lower case, no whitespace, no punctuation (categories P*), citation markers removed."""
    s = unicodedata.normalize("NFKC", strip_citations(text)).lower()
    return "".join(ch for ch in s if not ch.isspace() and not unicodedata.category(ch).startswith("P"))


def normalize(text: str, lang: str) -> str:
    return normalize_ja(text) if lang == "ja" else normalize_en(text)


def _units(normalised: str, lang: str) -> list[str]:
    """Scoring units of a normalised string: characters (ja) or whitespace tokens (en)."""
    return list(normalised) if lang == "ja" else normalised.split()


def f1(prediction: str, gold: str, lang: str) -> float:
    """Token F1 (en) or character F1 (ja) between two raw strings (normalised here). Two empty
    strings score 1 (SQuAD: a no-answer matched), one empty string 0."""
    p, g = _units(normalize(prediction, lang), lang), _units(normalize(gold, lang), lang)
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str, lang: str) -> float:
    return float(normalize(prediction, lang) == normalize(gold, lang))


def gold_in_answer(prediction: str, gold: str, lang: str) -> float:
    """1.0 when the normalised gold occurs in the normalised prediction: on whole tokens for
    English ("10" is not in "100"), as a substring for Japanese. An empty gold never matches."""
    p, g = normalize(prediction, lang), normalize(gold, lang)
    if not g:
        return 0.0
    if lang == "ja":
        return float(g in p)
    return float(f" {g} " in f" {p} ")


def score_answer(prediction: str, golds: Sequence[str], lang: str, refused: bool) -> dict[str, float]:
    """{"em", "f1", "gold_in"}: the best over ``golds``; a refused answer scores 0 on each."""
    if refused or not golds:
        return {"em": 0.0, "f1": 0.0, "gold_in": 0.0}
    return {
        "em": max(exact_match(prediction, g, lang) for g in golds),
        "f1": max(f1(prediction, g, lang) for g in golds),
        "gold_in": max(gold_in_answer(prediction, g, lang) for g in golds),
    }


def answer_lang(text: str) -> str:
    """The language an answer is written in: ``ingest.lang.detect_lang`` over the text without
    citation markers ("ja", "en", "ko", "zh" or "other"; "en" for text with no letters)."""
    return detect_lang(strip_citations(text))


def language_matches(answer: str, lang: str) -> float:
    """1.0 when ``answer`` is written in ``lang`` (the question's language, "ja" | "en"), else 0.0.
    An answer without letters (a bare number) matches either language."""
    written = answer_lang(answer)
    if not any(ch.isalpha() for ch in strip_citations(answer)):
        return 1.0
    return float(written == lang)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), ``q`` in [0, 100]; NaN when empty."""
    if not values:
        return math.nan
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _cites_gold(record: Mapping[str, Any]) -> bool:
    """Whether any citation of ``record`` points at its gold document."""
    return any(c["source"] == record["gold_source"] for c in record["citations"])


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def summarize_records(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Metrics of one (generator, set) over its per-question records.

    A record needs: ``answerable`` (bool), ``golds`` (list of str), ``lang``, ``text``,
    ``refused``, ``refusal_reason``, ``citations`` (list of {"source": ...}),
    ``invalid_citations`` (int), ``gold_source`` (str or None), ``context_sources`` (list of str),
    ``timings`` ({"first_token", "total"} seconds) and optionally ``rss_mb``.

    - em / f1 / gold_in: mean over answerable questions (refused = 0);
    - supported: share of answerable questions whose answer holds a gold answer *and* cites the
      gold document: a correct answer a reader can check at its source (questions without a gold
      document count on ``gold_in`` alone);
    - cite_valid: share of non-refused answers with >= 1 valid citation and 0 invalid markers;
    - cite_gold: share of non-refused answers to questions with a gold document whose citations
      include that document;
    - ctx_gold: share of answerable questions whose retrieved contexts include the gold document
      (what retrieval made possible);
    - refusal_unanswerable / false_refusal: refused shares of unanswerable / answerable questions;
    - ttft_p50: over answers the generator was called for (RAG's own refusals generate nothing);
      total_p50 / total_p95: over all answers; peak_rss_mb: the largest ``rss_mb`` recorded.
    """
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    scores = [score_answer(r["text"], r["golds"], scoring_lang(r["lang"], r["golds"]), r["refused"])
              for r in answerable]
    answered = [r for r in records if not r["refused"]]
    with_gold = [r for r in answered if r.get("gold_source")]
    generated = [r for r in records
                 if not str(r.get("refusal_reason") or "").startswith(NO_GENERATION_REASONS)]
    rss = [float(r["rss_mb"]) for r in records if r.get("rss_mb") is not None]
    totals = [float(r["timings"].get("total", math.nan)) for r in records]
    return {
        "n": len(records),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "em": _mean([s["em"] for s in scores]),
        "f1": _mean([s["f1"] for s in scores]),
        "gold_in": _mean([s["gold_in"] for s in scores]),
        "supported": _mean([s["gold_in"] * float(not r.get("gold_source") or _cites_gold(r))
                            for s, r in zip(scores, answerable, strict=True)]),
        "cite_valid": _mean([float(bool(r["citations"]) and r["invalid_citations"] == 0) for r in answered]),
        "cite_gold": _mean([float(_cites_gold(r)) for r in with_gold]),
        "ctx_gold": _mean([float(r["gold_source"] in r["context_sources"]) for r in answerable
                           if r.get("gold_source")]),
        "refusal_unanswerable": _mean([float(r["refused"]) for r in unanswerable]),
        "false_refusal": _mean([float(r["refused"]) for r in answerable]),
        "ttft_p50": percentile([float(r["timings"].get("first_token", math.nan)) for r in generated], 50),
        "total_p50": percentile(totals, 50),
        "total_p95": percentile(totals, 95),
        "peak_rss_mb": max(rss) if rss else math.nan,
    }
