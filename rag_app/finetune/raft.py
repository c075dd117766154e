"""RAFT records (Zhang et al. 2024, "RAFT: Adapting Language Model to Domain Specific RAG"): the
question with its oracle chunk among distractor chunks the real retriever ranked highly (hard
negatives), in shuffled order, the target a short answer citing the oracle's block ``[n]``; a
share of records shows distractors only, and its target is the refusal. Closed-book records are
the question and answer alone.

Prompts come from ``rag_app.build_prompt``, the answer path's builder, so a model is trained on
exactly the text it is served. Everything here is a pure function of its inputs except the
``Searcher`` calls, which ``RAG`` (``RAG.search``) satisfies.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from typing import Protocol

from rag_app.prompting import build_closed_book_prompt, build_prompt
from rag_app.refusal import refusal_message
from retrieval.types import ALL_GROUPS, Filters, Hit

from .records import SFTRecord
from .sources import GoldQuestion

SEARCH_DEPTH = 20  # candidates searched for the oracle / the distractors


class Searcher(Protocol):
    """What the builder needs from the retriever: ``RAG.search``."""

    def search(self, query: str, *, groups: Sequence[str] | None = None, filters: Filters | None = None,
               top_k: int | None = None) -> list[Hit]:
        ...


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Whether any answer occurs in ``text`` (NFKC, case and whitespace folded)."""
    t = _norm(text)
    return any(a and _norm(a) in t for a in answers)


def find_oracle(q: GoldQuestion, searcher: Searcher, depth: int = SEARCH_DEPTH) -> Hit | None:
    """The chunk of the gold document that holds an answer (best ranked first), or None."""
    hits = searcher.search(q.question, groups=ALL_GROUPS, filters=Filters(source_prefix=q.source), top_k=depth)
    return next((h for h in hits if h.chunk.source == q.source and contains_answer(h.chunk.text, q.answers)), None)


def pick_distractors(q: GoldQuestion, searcher: Searcher, k: int, depth: int = SEARCH_DEPTH) -> list[Hit]:
    """The ``k`` best-ranked chunks from other documents that do not hold an answer."""
    if k <= 0:
        return []
    hits = searcher.search(q.question, groups=ALL_GROUPS, top_k=k + depth)
    return [h for h in hits if h.chunk.source != q.source and not contains_answer(h.chunk.text, q.answers)][:k]


def cited_answer(answer: str, n: int) -> str:
    """The target of a record whose oracle is block ``n``: the short answer, then ``[n]``."""
    return f"{answer.strip()} [{n}]"


def _meta(q: GoldQuestion, hits: Sequence[Hit]) -> dict[str, object]:
    return {"qid": q.qid, "question": q.question, "group": q.group, "source": q.source, "chunk_ids": [h.chunk.id for h in hits]}


def raft_record(q: GoldQuestion, oracle: Hit | None, distractors: Sequence[Hit], *, split: str,
                rng: random.Random, max_context_tokens: int) -> SFTRecord:
    """One RAFT record. With ``oracle``: the oracle among the distractors in shuffled order, target
    ``"<answer> [n]"``; the oracle is moved to block 1 if the context budget would drop it.
    Without: the distractors only, target the refusal in the question's language."""
    blocks = list(distractors) + ([oracle] if oracle is not None else [])
    rng.shuffle(blocks)
    prompt = build_prompt(q.question, blocks, q.lang, max_context_tokens=max_context_tokens)
    if oracle is not None and oracle not in prompt.contexts:
        blocks = [oracle] + [b for b in blocks if b is not oracle]
        prompt = build_prompt(q.question, blocks, q.lang, max_context_tokens=max_context_tokens)
    if oracle is None:
        return SFTRecord(messages=prompt.messages, target=refusal_message(q.lang), kind="refusal", lang=q.lang,
                         split=split, origin=q.origin, template_version=prompt.template_version,
                         meta=_meta(q, prompt.contexts))
    n = prompt.contexts.index(oracle) + 1
    return SFTRecord(messages=prompt.messages, target=cited_answer(q.answers[0], n), kind="raft", lang=q.lang,
                     split=split, origin=q.origin, template_version=prompt.template_version, oracle_n=n,
                     meta=_meta(q, prompt.contexts))


def closed_book_record(q: GoldQuestion, *, split: str) -> SFTRecord:
    """Question -> answer with no context (the knowledge-injection arm of the evaluation), in the
    closed-book prompt the evaluation serves it with (``build_closed_book_prompt``)."""
    prompt = build_closed_book_prompt(q.question, q.lang)
    return SFTRecord(messages=prompt.messages, target=q.answers[0], kind="closed_book", lang=q.lang,
                     split=split, origin=q.origin, template_version=prompt.template_version,
                     meta={"qid": q.qid, "group": q.group, "source": q.source})
