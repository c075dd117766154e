"""Extractive answers: the retrieved sentences that best match the question, copied verbatim
with ``[n]`` citations. No model, no invented text; refuses when nothing overlaps enough.

Scoring: question terms are stemmed English words (stopwords removed) plus Japanese character
bigrams of kanji/katakana; each term weighs ``1 + ln(N / df)`` over the N candidate sentences
(terms no sentence has get the top weight, so an unanswerable question scores low everywhere).
A sentence's *coverage* is the weighted share of question terms it contains (0..1); its score
is coverage x a rank weight (block 1 first) x a language weight (question's language first).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ingest.lang import detect_lang
from ingest.loaders.tables import CELL_SEPARATOR
from ingest.sentences import split_sentences
from rag_app.injection import REMOVED_PREFIX, scan
from rag_app.prompting import (
    Prompt,
    detect_question_lang,
    heuristic_token_count,
    last_user_message,
    parse_context_blocks,
    parse_question,
)
from rag_app.refusal import SUPPORTED_LANGS, refusal_message
from rag_app.rewrite import EN_STOPWORDS
from rag_app.types import GenerationResult, Message, StreamEvent
from retrieval.dictionary import without_asides
from retrieval.line_items import asks_for_value, names_line_item
from retrieval.periods import question_years
from retrieval.synonyms import holds_phrase
from retrieval.types import Hit

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’]*")
_JA_RUN = re.compile(r"[一-龯々〆ヵヶァ-ヴー]{2,}")
_BULLET = re.compile(r"^\s*(?:[-*•・●▪■]|\d{1,2}[.)]|[（(]\d{1,2}[)）])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_TERMINAL = re.compile(r"([.!?。！？]+[\"'”’)\]」』）]*)\s*$")
_EXTRA_STOP = frozenset({"per", "via", "use", "used", "using", "need", "needs"})


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    try:
        import Stemmer  # PyStemmer: a core dependency (BM25 uses it too)
    except ImportError as exc:  # pragma: no cover - core dependency
        raise ImportError("the extractive generator needs PyStemmer: pip install PyStemmer") from exc
    return Stemmer.Stemmer("english")


# "six months" asks what "6 months" and "6か月" say
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"])}


def terms(text: str) -> set[str]:
    """Matching terms of ``text``: stemmed lower-case English words minus stopwords (number words
    as digits), and character bigrams of kanji/katakana runs (bigrams holding 何 are question words)."""
    words = [_NUMBER_WORDS.get(w, w) for w in (w.lower().replace("’", "'") for w in _WORD.findall(text))]
    words = [
        w for w in words if w not in EN_STOPWORDS and w not in _EXTRA_STOP and (len(w) > 1 or w.isdigit())
    ]
    out: set[str] = set(_stemmer().stemWords(words)) if words else set()
    for run in _JA_RUN.findall(text):
        out.update(run[i : i + 2] for i in range(len(run) - 1) if "何" not in run[i : i + 2])
    return out


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    """A candidate sentence of context block ``n`` (its ``index``-th sentence)."""

    n: int
    index: int
    text: str
    coverage: float
    score: float
    lang: str


_KEY_VALUE = re.compile(r"\S[:：]\s*\S")  # "年次有給休暇（全日）：取得日の3営業日前まで", "Fee: 5,000 JPY"
_ENDS_SENTENCE = re.compile(r"[.!?。！？:：;；][\"'”’」』]*\s*$")
MIN_UNPUNCTUATED_WORDS = 6  # English: a line this short without final punctuation is a heading or a label
MIN_UNPUNCTUATED_CHARS = 25  # Japanese: the same, in characters (第2条（年次有給休暇の付与） is 14)


def is_table_row(text: str) -> bool:
    """A table row as the loaders write it: "Header: value | Header: value"."""
    return CELL_SEPARATOR in text and ": " in text


def is_total_row(text: str) -> bool:
    """A table row whose label is a total ("Capital Spending: Total Company | 2018: $1,577")."""
    if not is_table_row(text):
        return False
    label = text.split(CELL_SEPARATOR, 1)[0].rsplit(": ", 1)[-1]
    return label.lower().startswith("total")


def is_fragment(text: str, ja: bool) -> bool:
    """True for what is never quoted as an answer: a table's header row alone ("Plan | Price"), and
    a short line without final punctuation (a heading, a label, a title) that is not a table row."""
    if CELL_SEPARATOR in text and ": " not in text:
        return True
    if is_table_row(text) or _KEY_VALUE.search(text) or _ENDS_SENTENCE.search(text):
        return False
    return len(text) < MIN_UNPUNCTUATED_CHARS if ja else len(text.split()) < MIN_UNPUNCTUATED_WORDS


# Legal boilerplate of filings, never an answer: the cover page's check-box questions, the
# certifications, signature and incorporation-by-reference formulas, statement footers
# (measured: 60 of the 74 FinanceBench filings hold the cover questions, 57 the certifications).
_BOILERPLATE = re.compile(
    r"(?i)\bindicate by check mark\b|\bI,? [A-Z][\w.\s-]{1,40}, certify that\b|\bcertify,? pursuant to\b|"
    r"\bpursuant to the requirements of (?:the )?securities exchange act\b|\bduly caused this report to be signed\b|"
    r"\bthe accompanying notes (?:to [\w\s]+)?are an integral part\b|\bincorporated (?:herein )?by reference\b|"
    r"\bforward-looking statements? (?:within the meaning|are made pursuant)\b|"
    r"\b(?:yes|no)\s*[☐☒□■✓✔]|[☐☒□■]\s*(?:yes|no)\b")


def is_boilerplate(text: str) -> bool:
    """True for a filing's legal formula ("Indicate by check mark whether the registrant ...")."""
    return bool(_BOILERPLATE.search(text))


def _clean_sentence(raw: str) -> str | None:
    """The sentence as it will be quoted, or None for headings, fragments and legal boilerplate."""
    text = " ".join(raw.split())
    if not text or _HEADING.match(raw) or is_boilerplate(text):
        return None
    text = _BULLET.sub("", text)
    letters = sum(ch.isalpha() for ch in text)
    ja = detect_lang(text) in ("ja", "zh")
    if letters < (5 if ja else 12) or is_fragment(text, ja):
        return None
    return text


# Questions whose answer is a number: "how many/much", amounts, rates, ratios, prices, dates;
# Japanese 何日/何円/何% ..., いくら, どのくらい. Their answer sentence holds a digit.
_QUANTITY_EN = re.compile(
    r"(?i)\bhow\s+(?:many|much|long|often|old|far|large|big)\b|\b(?:amount|number|total|percentage|percent|ratio|"
    r"rate|price|cost|revenue|income|expenditure|margin|value|size|count|fee|salary|limit|maximum|minimum)s?\b|"
    r"\bin\s+(?:usd|jpy|dollars|yen|millions|billions|thousands)\b|\bwhat\s+year\b|\bwhen\b")
_QUANTITY_JA = re.compile(r"何[日円人件回時分年月歳%％倍割]|何か月|何パーセント|いくら|幾ら|どのくらい|どれくらい|金額|割合|比率|上限|下限|最大|最小")
_DIGIT = re.compile(r"[0-9０-９]")


def asks_for_quantity(question: str) -> bool:
    """True when the answer to ``question`` is a number (an amount, a count, a rate, a date)."""
    return bool(_QUANTITY_EN.search(question) or _QUANTITY_JA.search(question))


_NEUTRALISED = re.compile(re.escape(REMOVED_PREFIX) + r'".*?"\]', re.DOTALL)


def _instruction_regions(text: str) -> list[tuple[int, int]]:
    """Char ranges of ``text`` holding suspected injected instructions, raw or neutralised."""
    regions = [(sp.start, sp.end) for sp in scan(text).spans]
    return regions + [(m.start(), m.end()) for m in _NEUTRALISED.finditer(text)]


def candidate_sentences(
    contexts: Sequence[tuple[int, str]], *, skip_injections: bool = True
) -> list[tuple[int, int, str]]:
    """(block number, sentence index, cleaned sentence) for every usable sentence. With
    ``skip_injections`` a sentence overlapping a suspected injected instruction is never quoted."""
    out = []
    for n, text in contexts:
        index = 0
        regions = _instruction_regions(text) if skip_injections else []
        for start, end in split_sentences(text):
            if any(start < r_end and r_start < end for r_start, r_end in regions):
                continue
            cleaned = _clean_sentence(text[start:end])
            if cleaned is not None:
                out.append((n, index, cleaned))
                index += 1
    return out


_SHORT_PERIOD = re.compile(r"(?i)\b(?:FY|CY)\s?'?((?:19|20)\d{2}|\d{2})\b")


def normalise_periods(question: str) -> str:
    """Period shorthands written as filings write them: "FY2018" / "FY18" -> "2018"."""
    return _SHORT_PERIOD.sub(lambda m: m.group(1) if len(m.group(1)) == 4 else "20" + m.group(1), question)


def focus_row(text: str, years: frozenset[str]) -> str:
    """A table row cut to its label and the cells of the asked ``years`` ("Purchases of PP&E |
    2018: (1,577)"); the row unchanged when it has no such cell or no other cells."""
    if not years or not is_table_row(text):
        return text
    first, *cells = text.split(CELL_SEPARATOR)
    kept = [c for c in cells if c.split(": ", 1)[0].strip() in years]
    return CELL_SEPARATOR.join([first, *kept]) if kept and len(kept) < len(cells) else text


def score_sentences(
    question: str,
    contexts: Sequence[tuple[int, str]],
    lang: str,
    *,
    rank_decay: float = 0.1,
    other_lang_weight: float = 0.8,
    skip_injections: bool = True,
    no_number_weight: float = 1.0,
    synonyms: Sequence[tuple[str, ...]] = (),
    headings: Mapping[int, str] | None = None,
    line_item_weight: float = 1.0,
    total_row_weight: float = 1.0,
    glosses: Sequence[tuple[str, Sequence[str]]] = (),
) -> list[ScoredSentence]:
    """Every candidate sentence of ``contexts`` ((block number, text) pairs, best block first)
    scored against ``question``; best first. For a question that asks for a quantity
    (``asks_for_quantity``) a sentence without a digit scores ``no_number_weight`` x as much.
    A sentence holding a phrase of one of ``synonyms`` (the groups the question names) matches
    the group's words; a table row also matches its block's heading (``headings[n]``: the
    statement a row belongs to) and is quoted with only the cells of the years asked about. A
    row whose label names the question's line item (a phrase of ``synonyms``) in the asked years
    (``retrieval.line_items.names_line_item``) scores ``line_item_weight`` x as much when the
    question asks for an amount (``asks_for_value``; "What drove ..." is answered by prose); so
    does a total row (``is_total_row``) by ``total_row_weight``: asked for a company's amount, the
    total answers, not its parts (a row naming an asked part matches more of the question). A
    sentence in the other language matches through ``glosses`` (``Prompt.glosses``,
    ``bridged_terms``)."""
    question = normalise_periods(question)
    q_terms = terms(question)
    years = question_years(question)
    value_asked = asks_for_value(question)
    phrases = [p for g in synonyms for p in g] if value_asked else []
    raw = candidate_sentences(contexts, skip_injections=skip_injections)
    item_rows = {(n, i) for n, i, text in raw if names_line_item(text, phrases, years)}
    cands = [(n, i, focus_row(text, years)) for n, i, text in raw]
    if not q_terms or not cands:
        return []
    heads = headings or {}

    def matched(n: int, text: str, s_lang: str) -> set[str]:
        if is_table_row(text) and heads.get(n):
            text = f"{heads[n]}\n{text}"
        return terms(text) | _synonym_terms(text, synonyms) | bridged_terms(question, text, s_lang, lang, glosses)

    langs = ["ja" if detect_lang(text) in ("ja", "zh") else "en" for _, _, text in cands]
    sent_terms = [matched(n, text, s_lang) for (n, _, text), s_lang in zip(cands, langs, strict=True)]
    n_sents = len(cands)
    df = {t: sum(t in st for st in sent_terms) for t in q_terms}
    weight = {t: 1.0 + math.log(n_sents / df[t]) if df[t] else 1.0 + math.log(2 * n_sents) for t in q_terms}
    total = sum(weight.values())
    order = {n: i for i, (n, _) in enumerate(contexts)}
    wants_number = no_number_weight != 1.0 and asks_for_quantity(question)
    scored = []
    for (n, index, text), st, s_lang in zip(cands, sent_terms, langs, strict=True):
        coverage = sum(weight[t] for t in q_terms & st) / total
        if coverage <= 0:
            continue
        score = coverage / (1.0 + rank_decay * order[n]) * (1.0 if s_lang == lang else other_lang_weight)
        if wants_number and not _DIGIT.search(text):
            score *= no_number_weight
        if (n, index) in item_rows:
            score *= line_item_weight
        if value_asked and is_total_row(text):
            score *= total_row_weight
        scored.append(
            ScoredSentence(n=n, index=index, text=text, coverage=coverage, score=score, lang=s_lang)
        )
    scored.sort(key=lambda s: (-s.score, order[s.n], s.index))
    return scored


def bridged_terms(question: str, text: str, text_lang: str, lang: str,
                  glosses: Sequence[tuple[str, Sequence[str]]]) -> set[str]:
    """The terms a sentence in another language (``text_lang``) than the question's (``lang``)
    matches through ``glosses`` ((Japanese word, English glosses) pairs): a Japanese sentence the
    terms of the glosses of the words it holds (保存 -> "preservation", "storage" ...); an English
    sentence the terms of the question's Japanese words one of whose glosses it holds whole
    (証明書 "certificate")."""
    if not glosses or text_lang == lang:
        return set()
    out: set[str] = set()
    if text_lang == "ja":
        for word, gs in glosses:
            if word in text:
                out.update(*(_gloss_terms(g) for g in gs))
        return out
    held = terms(text)
    for word, gs in glosses:
        if word in question and any((g_terms := _gloss_terms(g)) and g_terms <= held for g in gs):
            out |= terms(word)
    return out


@lru_cache(maxsize=8192)
def _gloss_terms(gloss: str) -> frozenset[str]:
    """``terms`` of a gloss without its asides; cached: every candidate sentence of an answer
    tests the same glosses."""
    return frozenset(terms(without_asides(gloss)))


def _synonym_terms(text: str, synonyms: Sequence[tuple[str, ...]]) -> set[str]:
    out: set[str] = set()
    for group in synonyms:
        if holds_phrase(text, group):
            out |= terms(" ".join(group))
    return out


def select_sentences(
    scored: Sequence[ScoredSentence],
    *,
    max_sentences: int = 3,
    min_coverage: float = 0.2,
    relative: float = 0.6,
) -> list[ScoredSentence]:
    """The best sentence if its coverage reaches ``min_coverage``, plus up to ``max_sentences``-1
    more that also reach it, score >= ``relative`` x the best, and are not near-duplicates."""
    chosen: list[ScoredSentence] = []
    seen: list[set[str]] = []
    for s in scored:
        if len(chosen) >= max_sentences:
            break
        if s.coverage < min_coverage or (chosen and s.score < relative * chosen[0].score):
            continue
        st = terms(s.text) | {s.text}
        if any(len(st & prev) / max(1, len(st | prev)) >= 0.8 for prev in seen):
            continue
        chosen.append(s)
        seen.append(st)
    return chosen


def cite(sentence: str, n: int, lang: str) -> str:
    """``sentence`` with `` [n]`` before its final punctuation ("...per year [1].", "...です[1]。"); a
    table row ("Plan: Enterprise | Uptime: 99.95 %") gets the marker and a full stop."""
    marker = f"[{n}]" if lang == "ja" else f" [{n}]"
    m = _TERMINAL.search(sentence)
    if m:
        return sentence[: m.start()].rstrip() + marker + m.group(1)
    if is_table_row(sentence):  # a row quoted among sentences ends like one: "... | 2018: (1,577) [1]."
        return sentence.rstrip() + marker + ("。" if lang == "ja" else ".")
    return sentence.rstrip() + marker


def _compose(chosen: Sequence[ScoredSentence]) -> list[str]:
    """Output pieces (each a cited sentence with its leading separator), in chosen order."""
    pieces = []
    for i, s in enumerate(chosen):
        sep = "" if i == 0 or (s.lang == "ja" and chosen[i - 1].lang == "ja") else " "
        pieces.append(sep + cite(s.text, s.n, s.lang))
    return pieces


def _within(pieces: Sequence[str], max_tokens: int) -> list[str]:
    """The leading pieces that fit ``max_tokens``: whole sentences; the first is always kept."""
    kept: list[str] = []
    used = 0
    for piece in pieces:
        cost = heuristic_token_count(piece)
        if kept and used + cost > max_tokens:
            break
        kept.append(piece)
        used += cost
    return kept


@dataclass(slots=True)
class ExtractiveGenerator:
    """A model-free :class:`~rag_app.types.ContextGenerator`: ``RAG`` gives it the built
    ``Prompt`` (``generate_prompt`` / ``stream_prompt``), whose blocks and question it reads as
    data. ``answer`` works on hits directly; ``generate``/``stream`` (for callers that hold only
    messages) read the blocks and question back out of messages built by
    ``rag_app.prompting.build_prompt``."""

    name: str = "extractive"
    max_sentences: int = 3
    # 0.2, not 0.4: refusing is the lexical-support gate's job (rag_app/answerability.py), which
    # refuses more unanswerable questions at fewer false refusals. Measured with that gate on
    # (benchmarks/bench_refusal.py, BENCHMARKS.md): 0.4 -> 0.2 raised "correct and cites the gold
    # document" on SQuAD 0.660 -> 0.795, JSQuAD 0.855 -> 0.865 (qa.jsonl 0.613 both)
    min_coverage: float = 0.2
    relative: float = 0.6
    rank_decay: float = 0.1
    skip_injections: bool = True  # never quote a sentence that looks like a planted instruction
    # a quantity question ("how much", 何日, "capital expenditure in USD millions") is answered by a
    # sentence or table row holding a number: one without a digit scores this share of its score
    no_number_weight: float = 0.5
    # a statement row named by the question's line item in the asked year ("Purchases of property,
    # plant and equipment | 2018: (1,577)" for FY2018 capex) holds the value; prose about the same
    # item ("63 % of capital spending was in the United States") scores as high on terms
    line_item_weight: float = 1.5
    # asked for an amount, the table's total row over its parts ("Capital Spending: Total Company"
    # over "Capital Spending: United States" for "3M's FY2018 capital expenditure")
    total_row_weight: float = 1.25

    def _pieces(self, question: str, contexts: Sequence[tuple[int, str]], lang: str,
                synonyms: Sequence[tuple[str, ...]] = (), headings: Mapping[int, str] | None = None,
                glosses: Sequence[tuple[str, Sequence[str]]] = ()) -> list[str]:
        if lang not in SUPPORTED_LANGS:
            raise ValueError(f"lang={lang!r} is not supported; allowed: {', '.join(SUPPORTED_LANGS)}")
        scored = score_sentences(
            question, contexts, lang, rank_decay=self.rank_decay, skip_injections=self.skip_injections,
            no_number_weight=self.no_number_weight, synonyms=synonyms, headings=headings,
            line_item_weight=self.line_item_weight, total_row_weight=self.total_row_weight, glosses=glosses,
        )
        chosen = select_sentences(
            scored, max_sentences=self.max_sentences, min_coverage=self.min_coverage, relative=self.relative
        )
        return _compose(chosen) if chosen else [refusal_message(lang)]

    def _result(self, pieces: Sequence[str], prompt_text: str) -> GenerationResult:
        text = "".join(pieces)
        return GenerationResult(
            text=text,
            model=self.name,
            prompt_tokens=heuristic_token_count(prompt_text),
            completion_tokens=heuristic_token_count(text),
        )

    def answer(self, question: str, hits: Sequence[Hit], lang: str) -> GenerationResult:
        """Cited sentences from ``hits`` (block ``n`` is ``hits[n - 1]``), or the refusal."""
        contexts = [(i + 1, h.chunk.text) for i, h in enumerate(hits)]
        pieces = self._pieces(question, contexts, lang)
        return self._result(pieces, question + "".join(t for _, t in contexts))

    # -- from a built Prompt (data) -------------------------------------------------------------
    def _from_prompt(self, prompt: Prompt, max_tokens: int) -> tuple[list[str], str]:
        pieces = self._pieces(prompt.question, [(b.n, b.text) for b in prompt.blocks], prompt.lang,
                              prompt.synonyms, {b.n: b.heading for b in prompt.blocks if b.heading}, prompt.glosses)
        return _within(pieces, max_tokens), "".join(m.content for m in prompt.messages)

    def generate_prompt(self, prompt: Prompt, *, max_tokens: int = 512, temperature: float = 0.0) -> GenerationResult:
        pieces, prompt_text = self._from_prompt(prompt, max_tokens)
        return self._result(pieces, prompt_text)

    def stream_prompt(self, prompt: Prompt, *, max_tokens: int = 512, temperature: float = 0.0) -> Iterator[StreamEvent]:
        pieces, prompt_text = self._from_prompt(prompt, max_tokens)
        yield from self._events(pieces, prompt_text)

    # -- from messages (text) ---------------------------------------------------------------------
    def _from_messages(self, messages: Sequence[Message], max_tokens: int) -> tuple[list[str], str]:
        user = last_user_message(messages)
        if user is None:
            raise ValueError(
                "messages have no user message: build them with rag_app.prompting.build_prompt"
            )
        blocks = parse_context_blocks(user.content)
        question = parse_question(user.content)
        if question is None:  # not a ragqa prompt: the whole message is the question
            question = user.content
        lang = detect_question_lang(question)
        pieces = self._pieces(question, [(b.n, b.text) for b in blocks], lang)
        return _within(pieces, max_tokens), "".join(m.content for m in messages)

    def generate(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> GenerationResult:
        pieces, prompt_text = self._from_messages(messages, max_tokens)
        return self._result(pieces, prompt_text)

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 512, temperature: float = 0.0
    ) -> Iterator[StreamEvent]:
        pieces, prompt_text = self._from_messages(messages, max_tokens)
        yield from self._events(pieces, prompt_text)

    def _events(self, pieces: Sequence[str], prompt_text: str) -> Iterator[StreamEvent]:
        for piece in pieces:
            yield StreamEvent(delta=piece)
        yield StreamEvent(done=True, result=self._result(pieces, prompt_text))
