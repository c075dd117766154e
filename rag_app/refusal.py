"""Refusals: the per-language "don't know" text, a refusal's reason in words, spotting a
generator's own refusal, and the retrieval-score threshold below which ragqa refuses without
asking the generator."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

REFUSAL_MESSAGES: dict[str, str] = {
    "en": "I don't know based on the provided documents.",
    "ja": "提供された資料からは分かりません。",
}
SUPPORTED_LANGS: tuple[str, ...] = tuple(REFUSAL_MESSAGES)


def refusal_message(lang: str) -> str:
    """The exact refusal text the system prompt asks for in ``lang`` ("ja" | "en")."""
    try:
        return REFUSAL_MESSAGES[lang]
    except KeyError:
        raise ValueError(
            f"no refusal message for lang={lang!r}; allowed: {', '.join(SUPPORTED_LANGS)} "
            "(detect the question's language with rag_app.prompting.detect_question_lang)"
        ) from None


def explain_refusal(reason: str | None) -> str:
    """A refusal's reason (``Answer.refusal_reason``) in one or two sentences a reader understands:
    what the page and the CLI show beside the refusal text."""
    kind, _, detail = (reason or "").partition(":")
    if kind == "no_hits":
        return "Nothing relevant was found: no document you may see matches the question (or the filters)."
    if kind == "low_relevance":
        best, _, floor = detail.partition("<")
        return (f"Nothing relevant enough was found: the closest passage scores {best}, below the "
                f"{floor} a passage needs to be trusted as an answer.")
    if kind == "unsupported_terms":
        terms = detail.split(":", 1)[1] if ":" in detail else ""
        shown = ", ".join(t for t in terms.split(",") if t)
        return ("The question asks about something the documents never mention"
                + (f" (not found: {shown})." if shown else "."))
    if kind == "name_not_found":
        return ("The question asks about something the documents never mention: no passage found names "
                f"{detail.replace(',', ', ')}.")
    if kind == "period_not_found":
        return (f"The documents found are reports, and none covers or mentions {detail.replace(',', ', ')}: "
                "no report of that period is indexed.")
    if kind == "generator_refused":
        return "The passages found do not answer the question: the model read them and found no answer."
    if kind == "answer_followed_injection":
        return ("The answer was withheld: it followed an instruction planted in a document instead of "
                "answering from it.")
    return f"The question was not answered ({reason or 'no reason given'})."


_EN_REFUSAL = re.compile(
    r"""
    \bI\s+(?:do\s+not|don['’]?t|cannot|can['’]?t)\s+know\b
    | \bI\s+(?:do\s+not|don['’]?t)\s+have\s+(?:enough\s+|any\s+|the\s+)?information\b
    | \bnot\s+(?:\w+\s+){0,2}(?:in|from|within)\s+the\s+(?:provided|given|supplied|available|retrieved)\s+
      (?:documents?|context|contexts|information|sources?|materials?|texts?|blocks?)\b
    | \b(?:cannot|can['’]?t|can\s+not|could\s+not|couldn['’]?t|unable\s+to)\s+(?:find|locate|determine|answer)\b
    | \bno\s+(?:relevant\s+)?information\s+(?:about|on|regarding|is\s+available)\b
    | \b(?:the\s+)?(?:provided\s+|given\s+)?(?:documents?|context|contexts|sources?|blocks?)\s+
      (?:does|do)\s+not\s+(?:contain|mention|say|specify|include|provide|cover|state)\b
    | \b(?:not\s+enough|insufficient)\s+information\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_JA_REFUSAL = re.compile(
    "分かりません|わかりません|分からない|わからない|判りません"
    "|記載されていません|記載がありません|記載はありません|書かれていません"
    "|見つかりません|見つけられません|見当たりません"
    "|情報がありません|情報はありません|情報が見つかりません|情報が含まれていません"
    "|含まれていません|判断できません|お答えできません|回答できません|答えられません"
)
# A refusal is said up front; a refusal phrase later in an answer is usually a caveat
# ("... [1]. The documents do not mention carry-over."), not a refusal.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])|\n+")
_PREAMBLE_MAX_CHARS = 40  # "Sorry." / "申し訳ありません。" before the refusal itself
_APOLOGY = re.compile(
    r"\b(?:sorry|apologi[sz]e|unfortunately)\b|申し訳|すみません|残念ながら|恐れ入りますが", re.IGNORECASE
)


def is_refusal_text(text: str, lang: str = "en") -> bool:
    """True when ``text`` is a generator's own "I don't know" (any wording, EN or JA).

    ``lang``'s phrases are checked first, then the other language's (models sometimes answer
    in the wrong language). Only the first sentence counts, or the second after a short
    apology ("Sorry."), so an answer with a trailing caveat is not taken for a refusal.
    """
    if lang not in SUPPORTED_LANGS:
        raise ValueError(f"lang={lang!r} is not supported; allowed: {', '.join(SUPPORTED_LANGS)}")
    stripped = text.strip()
    if not stripped:
        return True  # an empty answer says nothing: treat as a refusal
    sentences = [s.strip() for s in _SENTENCE_END.split(stripped) if s and s.strip()]
    head = sentences[:1]
    if len(sentences) > 1 and len(sentences[0]) <= _PREAMBLE_MAX_CHARS and _APOLOGY.search(sentences[0]):
        head = sentences[:2]
    patterns = (_JA_REFUSAL, _EN_REFUSAL) if lang == "ja" else (_EN_REFUSAL, _JA_REFUSAL)
    return any(p.search(s) for s in head for p in patterns)


def should_refuse(scores: Sequence[float], threshold: float) -> bool:
    """Refuse when no retrieved score reaches ``threshold`` (an empty list always refuses).

    Scores must come from one retriever/reranker, the one the threshold was calibrated on.
    """
    return not scores or max(scores) < threshold


def _check_scores(name: str, scores: Sequence[float]) -> list[float]:
    values = [float(s) for s in scores]
    if not values:
        raise ValueError(f"{name} is empty; calibrate_threshold needs at least one score in each list")
    bad = [s for s in values if math.isnan(s)]
    if bad:
        raise ValueError(f"{name} contains NaN; drop or fix those scores before calibrating")
    return values


def calibrate_threshold(pos_scores: Sequence[float], neg_scores: Sequence[float]) -> float:
    """The answer/refuse cut point that maximises balanced accuracy (equivalently Youden's J).

    ``pos_scores``: the top retrieval score of each question that *has* an answer in the
    corpus (should be answered: score >= threshold); ``neg_scores``: the top score of each
    unanswerable question (should be refused: score < threshold). Candidates are the midpoints
    between consecutive distinct scores plus one point beyond each end; among equally good
    candidates the one farthest from any observed score (the widest gap) wins.
    """
    pos = _check_scores("pos_scores", pos_scores)
    neg = _check_scores("neg_scores", neg_scores)
    values = sorted(set(pos) | set(neg))
    below = values[0] - 1.0 if len(values) == 1 else values[0] - (values[1] - values[0])
    above = values[-1] + 1.0 if len(values) == 1 else values[-1] + (values[-1] - values[-2])
    # (threshold, margin to the nearest observed score)
    candidates = [(below, values[0] - below)]
    candidates += [((a + b) / 2, (b - a) / 2) for a, b in itertools.pairwise(values)]
    candidates.append((above, above - values[-1]))
    # ``above`` is exclusive of every score: it refuses everything, a valid (if poor) choice.
    best: tuple[float, float, float] | None = None  # (balanced accuracy, margin, threshold)
    for threshold, margin in candidates:
        tpr = sum(s >= threshold for s in pos) / len(pos)
        tnr = sum(s < threshold for s in neg) / len(neg)
        key = ((tpr + tnr) / 2, margin, threshold)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    return best[2]


def balanced_accuracy(pos_scores: Sequence[float], neg_scores: Sequence[float], threshold: float) -> float:
    """(TPR + TNR) / 2 of ``threshold``: answered positives and refused negatives."""
    pos = _check_scores("pos_scores", pos_scores)
    neg = _check_scores("neg_scores", neg_scores)
    tpr = sum(s >= threshold for s in pos) / len(pos)
    tnr = sum(s < threshold for s in neg) / len(neg)
    return (tpr + tnr) / 2
