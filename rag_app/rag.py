"""The question -> cited answer path behind the CLI, the Streamlit page and the Python API.

    from rag_app import RAG
    rag = RAG.from_config(index_dir=".ragqa")
    answer = rag.ask("年次有給休暇は何日？", groups=["hr"])
    print(answer.text, [c.source for c in answer.citations])

Steps of ``ask``: rewrite a follow-up with the history -> retrieve with the caller's groups ->
refuse without calling a generator when nothing relevant was found -> neutralise planted
instructions in the contexts -> numbered, delimited prompt -> generate -> map [n] markers to
chunks, drop dangling ones -> detect the generator's own "don't know" -> block answers that
followed an injection. Every step's outcome is recorded on the ``Answer`` (per-question trace).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from retrieval.types import Filters, Hit, Retriever

from .answerability import TermSupport
from .config import DEFAULT_REFUSAL_THRESHOLDS, RAGConfig, load_config
from .types import Answer, GenerationResult, Generator, Message


@dataclass(frozen=True, slots=True)
class AnswerEvent:
    """One step of ``RAG.stream``: a text delta, or the final ``answer`` (last event)."""

    delta: str = ""
    answer: Answer | None = None


def relevance_signal(hits: Sequence[Hit], mode: str) -> float | None:
    """The score compared with the refusal threshold: the best ``Hit.dense_score`` (bm25 mode:
    ``Hit.bm25_score``); None when no hit carries it (a retriever that measures neither), and
    then the relevance gate abstains."""
    vals = [v for h in hits if (v := (h.bm25_score if mode == "bm25" else h.dense_score)) is not None]
    return max(vals) if vals else None


class RAG:
    """Cheap to construct; the index, models and SDKs load on first use."""

    def __init__(self, config: RAGConfig | None = None, *, retriever: Retriever | None = None,
                 generator: Generator | None = None) -> None:
        self.config = config or RAGConfig()
        self._retriever = retriever
        self._generator = generator
        self._generator_spec: str | None = getattr(generator, "name", None)
        self._reader: Any = None

    @classmethod
    def from_config(cls, config_file: Path | str | None = None, **overrides: Any) -> RAG:
        """``RAG.from_config(index_dir=..., generator="extractive", mode="hybrid", top_k=5, ...)``."""
        return cls(load_config(Path(config_file) if config_file else None, **overrides))

    # -- parts ----------------------------------------------------------------------------------
    @property
    def reader(self) -> Any:
        if self._reader is None:
            from retrieval.index import IndexReader

            self._reader = IndexReader(self.config.index)
        return self._reader

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            from retrieval.factory import make_reranker, make_retriever

            a = self.config.answer
            self._retriever = make_retriever(self.reader, a.mode, depth=a.depth,
                                             weights=(a.dense_weight, a.bm25_weight),
                                             reranker=make_reranker(a.reranker))
        return self._retriever

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            from .generators.registry import auto_generator, make_generator

            spec = self.config.answer.generator
            if spec == "auto":
                spec = auto_generator()
            self._generator = make_generator(spec)
            self._generator_spec = spec
        return self._generator

    @property
    def generator_name(self) -> str:
        self.generator  # noqa: B018 - resolves "auto"
        return str(self._generator_spec or getattr(self._generator, "name", "unknown"))

    def refusal_threshold(self) -> float:
        a = self.config.answer
        if a.refusal_threshold is not None:
            return a.refusal_threshold
        stored = None
        if self._retriever is None or self._reader is not None:
            try:
                stored = self.reader.catalog.get_meta(f"refusal_threshold:{a.mode}")
            except Exception:  # an index without calibration, or a custom retriever
                stored = None
        return float(stored) if stored is not None else DEFAULT_REFUSAL_THRESHOLDS[a.mode]

    # -- retrieval ---------------------------------------------------------------------------------
    def retrieve(self, question: str, *, groups: Sequence[str] | None = None, filters: Filters | None = None,
                 history: Sequence[Message] = (), top_k: int | None = None) -> tuple[str, list[Hit]]:
        """(the question as searched, hits). Follow-ups are rewritten with the history."""
        from .rewrite import rewrite_question

        q = question
        if history and self.config.answer.rewrite_follow_ups:
            q = rewrite_question(question, history)
        k = top_k or self.config.answer.top_k
        return q, self.retriever.retrieve(q, top_k=k, filters=filters, groups=groups)

    def lexical_support(self, question: str, hits: Sequence[Hit], lang: str) -> TermSupport | None:
        """How much of the question's idf-weighted terms the hits in its language contain
        (``rag_app.answerability``); None without an index reader (a custom retriever)."""
        from .answerability import question_terms, term_support

        if self._retriever is not None and self._reader is None:
            return None
        try:
            reader = self.reader
            analyzer = reader.analyzer
            q_terms = question_terms(question, analyzer)
            doc_freq, n_docs = reader.doc_freq(q_terms)
        except Exception:  # an index without a keyword side cannot judge: abstain
            return None
        same = [analyzer.tokenize(h.chunk.text) for h in hits if h.chunk.lang == lang]
        return term_support(q_terms, same, doc_freq, n_docs)

    # -- answering ------------------------------------------------------------------------------
    def ask(self, question: str, *, groups: Sequence[str] | None = None, history: Sequence[Message] = (),
            filters: Filters | None = None) -> Answer:
        final: Answer | None = None
        for ev in self._run(question, groups, history, filters, stream=False):
            if ev.answer is not None:
                final = ev.answer
        assert final is not None
        return final

    def stream(self, question: str, *, groups: Sequence[str] | None = None, history: Sequence[Message] = (),
               filters: Filters | None = None) -> Iterator[AnswerEvent]:
        """Deltas as the generator writes them, then one event carrying the final ``Answer``
        (whose text has dangling citation markers removed)."""
        yield from self._run(question, groups, history, filters, stream=True)

    def _run(self, question: str, groups: Sequence[str] | None, history: Sequence[Message],
             filters: Filters | None, *, stream: bool) -> Iterator[AnswerEvent]:
        from . import injection
        from .citations import parse_citations, resolve_citations
        from .prompting import build_prompt, detect_question_lang
        from .refusal import is_refusal_text, refusal_message

        if not question or not question.strip():
            raise ValueError("empty question: ask something, e.g. rag.ask('What is the leave policy?')")
        a = self.config.answer
        t0 = time.perf_counter()
        lang = detect_question_lang(question)
        flags: list[str] = []
        q_for_search = question
        if a.injection_defence:
            q_scan = injection.scan(question)
            if q_scan.suspicious:
                flags += [f"question:{f}" for f in q_scan.flags]
                q_for_search = injection.neutralise(question, q_scan)

        searched, hits = self.retrieve(q_for_search, groups=groups, filters=filters, history=history)
        t_retrieval = time.perf_counter() - t0
        rewritten = searched if searched != q_for_search else None
        base = dict(question=question, contexts=tuple(hits), rewritten_question=rewritten)

        threshold = self.refusal_threshold()
        signal = relevance_signal(hits, a.mode)
        reason: str | None = None
        if not hits:
            reason = "no_hits"
        elif signal is not None and signal < threshold:
            reason = f"low_relevance:{signal:.4f}<{threshold:.4f}"
        elif a.max_unsupported is not None:
            support = self.lexical_support(searched, hits, lang)
            if support is not None and support.refuses(a.max_unsupported):
                reason = (f"unsupported_terms:{support.unsupported_share:.3f}>{a.max_unsupported:.3f}:"
                          + ",".join(support.unsupported))
        if reason is not None:  # refused before any generator runs; what was found is still returned
            text = refusal_message(lang)
            yield AnswerEvent(delta=text)
            yield AnswerEvent(answer=Answer(
                text=text, citations=(), refused=True, generator="none", injection_flags=tuple(flags),
                refusal_reason=reason,
                timings={"retrieval": t_retrieval, "first_token": 0.0, "generation": 0.0,
                         "total": time.perf_counter() - t0},
                tokens={"prompt": 0, "completion": 0}, **base,  # type: ignore[arg-type]
            ))
            return

        scans = injection.scan_many([h.chunk.text for h in hits]) if a.injection_defence else ()
        for h, sc in zip(hits, scans, strict=False):
            if sc.suspicious:
                flags += [f"context:{h.chunk.source}:{f}" for f in sc.flags]
        prompt = build_prompt(question, hits, lang, history, max_context_tokens=a.max_context_tokens,
                              transform_text=injection.neutralise if a.injection_defence else None)
        gen = self.generator
        t_gen = time.perf_counter()
        first_token: float | None = None
        result: GenerationResult | None = None
        if stream:
            parts: list[str] = []
            for ev in gen.stream(prompt.messages, max_tokens=a.max_tokens, temperature=a.temperature):
                if ev.delta:
                    if first_token is None:
                        first_token = time.perf_counter() - t0
                    parts.append(ev.delta)
                    yield AnswerEvent(delta=ev.delta)
                if ev.done:
                    result = ev.result
            if result is None:
                result = GenerationResult(text="".join(parts), model=getattr(gen, "name", "?"))
        else:
            result = gen.generate(prompt.messages, max_tokens=a.max_tokens, temperature=a.temperature)
            first_token = time.perf_counter() - t0
        assert result is not None
        t_generation = time.perf_counter() - t_gen

        parsed = parse_citations(result.text, len(prompt.contexts))
        citations = resolve_citations(parsed, prompt.contexts)
        text = parsed.text.strip()
        refused = is_refusal_text(text, lang)
        reason = "generator_refused" if refused else None
        if a.injection_defence:
            obeyed = injection.check_answer_compliance(text, scans, prompt.system, expected_lang=lang)
            if obeyed:
                flags += [f"answer:{f}" for f in obeyed]
                text, refused, reason, citations = refusal_message(lang), True, "answer_followed_injection", ()
        answer = Answer(
            text=text, citations=citations, refused=refused, generator=self.generator_name,
            refusal_reason=reason, invalid_citations=parsed.invalid, uncited=not refused and not citations,
            injection_flags=tuple(flags),
            timings={"retrieval": t_retrieval, "first_token": first_token or 0.0, "generation": t_generation,
                     "total": time.perf_counter() - t0},
            tokens={"prompt": result.prompt_tokens, "completion": result.completion_tokens,
                    "context_blocks": len(prompt.contexts), "dropped_blocks": prompt.dropped},
            **base,  # type: ignore[arg-type]
        )
        yield AnswerEvent(answer=replace(answer, contexts=tuple(prompt.contexts)))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
