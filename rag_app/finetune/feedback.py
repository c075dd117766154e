"""Feedback from the Q&A page as training data: an answer rated good becomes an SFT target on the
prompt it was given; a bad answer with a user's corrected one becomes a preference pair
(chosen = corrected, rejected = the model's). The prompt is rebuilt with ``rag_app.build_prompt``
from the answer's context blocks (``Hit.to_dict`` dicts, or chunk ids looked up in the index)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ingest.types import Chunk
from rag_app.prompting import build_prompt, detect_question_lang
from retrieval.types import Hit

from .records import PreferencePair, SFTRecord
from .sources import Feedback, Issue


class ChunkLookup(Protocol):
    """Chunks by id (``IndexReader.chunks``)."""

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        ...


def context_hits(fb: Feedback, lookup: ChunkLookup | None) -> list[Hit] | Issue:
    """The answer's context blocks as hits, in block order; an ``Issue`` when a chunk id is gone
    from the index (re-ingested since) or a context is neither a hit dict nor an id."""
    ids = [c for c in fb.contexts if isinstance(c, str)]
    found = lookup.chunks(ids) if ids and lookup is not None else {}
    hits: list[Hit] = []
    for c in fb.contexts:
        if isinstance(c, dict):
            try:
                hits.append(Hit.from_dict(c))
            except (KeyError, TypeError, ValueError) as exc:
                return Issue(fb.where, f"context is not a Hit.to_dict() object ({exc!r})")
        elif isinstance(c, str) and c in found:
            hits.append(Hit(chunk=found[c], score=0.0, retriever="feedback"))
        else:
            return Issue(fb.where, f"context chunk {c!r} is not in the index (re-ingested since?): skipped")
    return hits


def feedback_record(fb: Feedback, hits: Sequence[Hit], *, split: str, max_context_tokens: int,
                    origin: str) -> SFTRecord | PreferencePair | Issue:
    lang = detect_question_lang(fb.question)
    prompt = build_prompt(fb.question, hits, lang, max_context_tokens=max_context_tokens)
    meta = {"chunk_ids": [h.chunk.id for h in prompt.contexts], "where": fb.where,
            "group": hits[0].chunk.source if hits else fb.question}
    if fb.rating == "good":
        return SFTRecord(messages=prompt.messages, target=fb.answer, kind="feedback", lang=lang, split=split,
                         origin=origin, template_version=prompt.template_version, meta=meta)
    if fb.corrected and fb.corrected != fb.answer:
        return PreferencePair(messages=prompt.messages, chosen=fb.corrected, rejected=fb.answer, lang=lang,
                              split=split, origin=origin, template_version=prompt.template_version, meta=meta)
    return Issue(fb.where, "answer rated bad without a corrected answer: nothing to learn from, skipped")
