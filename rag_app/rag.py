"""The question -> cited answer path behind the CLI, the Streamlit page and the Python API.

    from rag_app import RAG
    rag = RAG.from_config(index_dir=".ragqa")
    answer = rag.ask("年次有給休暇は何日？", groups=["hr"])
    print(answer.text, [c.source for c in answer.citations])

Steps of ``ask``: rewrite a follow-up with the history -> retrieve with the caller's groups ->
build the numbered, delimited prompt (``prepare``) -> refuse without calling a generator when
nothing relevant was found -> generate -> map [n] markers to chunks, drop dangling ones ->
detect the generator's own "don't know" -> block answers that followed an injection. Every
step's outcome is recorded on the ``Answer`` (per-question trace).

Thread safety: one ``RAG`` may be shared by many threads (a Streamlit process, a web server).
Its parts load once, under a lock, on first use; the index reader is shared by every ``RAG``
over the same index settings (``rag_app.shared_index``); generators serialise their own model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.dictionary import TermDictionary, load_dictionary
from retrieval.names import missing_names
from retrieval.periods import missing_period
from retrieval.synonyms import Synonyms, load_synonyms
from retrieval.types import Filters, Hit, Retriever

from .answerability import TermSupport
from .config import (
    RETRIEVAL_SETTINGS,
    RAGConfig,
    default_refusal_threshold,
    load_config,
    refusal_threshold_key,
)
from .prompting import Prompt
from .types import Answer, ContextGenerator, DocumentInfo, GenerationResult, Generator, IndexStatus, Message

if TYPE_CHECKING:
    from ingest.distributed import RayIngestConfig
    from ingest.pipeline import IngestReport, ProgressCallback
    from ingest.removal import RemovalReport
    from retrieval.index import IndexReader


@dataclass(frozen=True, slots=True)
class AnswerEvent:
    """One step of ``RAG.stream``: a text delta, or the final ``answer`` (last event)."""

    delta: str = ""
    answer: Answer | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """Everything ``RAG.prepare`` decided before a generator runs.

    ``searched``: the question as searched (a follow-up rewritten with the history, planted
    instructions neutralised). ``retrieved``: the hits, rank order. ``prompt``: the prompt over
    them (``prompt.contexts`` are the blocks that fit the budget). ``refusal_reason``: set when
    the answer is a refusal without generation. ``scans``: the injection scan of each retrieved
    chunk (empty with the defence off). ``retrieval_s``: seconds spent retrieving.
    """

    question: str
    lang: str
    searched: str
    retrieved: tuple[Hit, ...]
    prompt: Prompt
    refusal_reason: str | None
    injection_flags: tuple[str, ...]
    scans: tuple[Any, ...]
    retrieval_s: float


def relevance_signal(hits: Sequence[Hit], mode: str) -> float | None:
    """The score compared with the refusal threshold: the best ``Hit.dense_score`` (bm25 mode:
    ``Hit.bm25_score``); None when no hit carries it (a retriever that measures neither), and
    then the relevance gate abstains."""
    vals = [v for h in hits if (v := (h.bm25_score if mode == "bm25" else h.dense_score)) is not None]
    return max(vals) if vals else None


class RAG:
    """Cheap to construct; the index, models and SDKs load on first use (thread-safe).

    ``retriever`` / ``generator`` replace the configured ones (any object following the
    ``Retriever`` / ``Generator`` protocols); ``reader`` hands in an opened index (default: the
    process's shared reader for ``config.index``).
    """

    def __init__(self, config: RAGConfig | None = None, *, retriever: Retriever | None = None,
                 generator: Generator | None = None, reader: IndexReader | None = None) -> None:
        self.config = config or RAGConfig()
        self._retriever = retriever
        self._custom_retriever = retriever is not None
        self._generator = generator
        self._generator_spec: str | None = generator.name if generator is not None else None
        self._reader: IndexReader | None = reader
        self._shared_reader = False
        self._lock = threading.RLock()
        self._built_at = -1  # catalog generation when the retriever was last checked
        self._built_langs: list[str] = []  # the index's languages the retriever was built for
        self._synonyms: Synonyms | None = None
        self._dictionary_loaded: tuple[TermDictionary | None] | None = None

    @classmethod
    def from_config(cls, config_file: Path | str | None = None, **overrides: Any) -> RAG:
        """``RAG.from_config(index_dir=..., generator="extractive", mode="hybrid", top_k=5, ...)``."""
        return cls(load_config(Path(config_file) if config_file else None, **overrides))

    def with_settings(self, **answer_overrides: Any) -> RAG:
        """A ``RAG`` with other answer settings (``mode``, ``top_k``, ``generator``...) over the same
        opened index; it keeps this one's generator when the generator spec is unchanged and its
        custom retriever when no retrieval setting changed."""
        answer = replace(self.config.answer, **answer_overrides)
        retrieval_same = all(getattr(answer, f) == getattr(self.config.answer, f)
                             for f in RETRIEVAL_SETTINGS)
        # a reader handed in is passed on; a shared one is found again by the same index settings
        handed_in = self._reader if not self._shared_reader else None
        return RAG(replace(self.config, answer=answer),
                   retriever=self._retriever if self._custom_retriever and retrieval_same else None,
                   generator=self._generator if answer.generator == self.config.answer.generator else None,
                   reader=handed_in)

    # -- parts ----------------------------------------------------------------------------------
    def _uses_index(self) -> bool:
        """False for a custom retriever handed in without a reader: no index is opened for it."""
        return not self._custom_retriever or self._reader is not None

    @property
    def reader(self) -> IndexReader:
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    from . import shared_index

                    self._reader = shared_index.acquire(self.config.index)
                    self._shared_reader = True
        return self._reader

    @property
    def retriever(self) -> Retriever:
        """The configured retriever; rebuilt when an ingest (by any process) changed the index's
        languages, since hybrid runs one dense list per language."""
        if self._custom_retriever:
            assert self._retriever is not None
            return self._retriever
        generation = self.reader.catalog.generation()
        built = self._retriever
        if built is None or (generation != self._built_at and self.reader.languages() != self._built_langs):
            with self._lock:
                if self._retriever is built:
                    self._built_langs = self.reader.languages()
                    self._retriever = self._build_retriever()
        self._built_at = generation
        assert self._retriever is not None
        return self._retriever

    @property
    def _dictionary(self) -> TermDictionary | None:
        """The configured bilingual dictionary (``AnswerSettings.dictionary``), None when off."""
        if self._dictionary_loaded is None:
            with self._lock:
                if self._dictionary_loaded is None:
                    self._dictionary_loaded = (load_dictionary(self.config.answer.dictionary),)
        return self._dictionary_loaded[0]

    @property
    def _synonym_groups(self) -> Synonyms:
        """The configured synonym groups (``AnswerSettings.synonyms``), read once: a bad spec or
        file fails here with the allowed values."""
        if self._synonyms is None:
            with self._lock:
                if self._synonyms is None:
                    self._synonyms = load_synonyms(self.config.answer.synonyms)
        return self._synonyms

    def _build_retriever(self) -> Retriever:
        from retrieval.factory import make_reranker, make_retriever

        a = self.config.answer
        return make_retriever(self.reader, a.mode, depth=a.depth, weights=(a.dense_weight, a.bm25_weight),
                              reranker=make_reranker(a.reranker), synonyms=self._synonym_groups,
                              period_weight=a.period_weight, row_weight=a.row_weight,
                              name_weight=a.name_weight)

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            with self._lock:
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
        gen = self.generator  # resolves "auto"
        return str(self._generator_spec or gen.name)

    def _embedder_id(self) -> str | None:
        if not self._uses_index():
            return None
        try:
            return self.reader.catalog.get_meta("embedder_id")
        except Exception:  # no index yet: nothing recorded
            return None

    def refusal_threshold(self) -> float | None:
        """The relevance floor in force: the configured one, else the index's calibration for this
        mode and embedder (``ragqa calibrate``), else the built-in default where it applies; None:
        the relevance gate abstains."""
        a = self.config.answer
        if a.refusal_threshold is not None:
            return a.refusal_threshold
        embedder_id = self._embedder_id()
        if embedder_id is None:
            return None
        stored = self.reader.catalog.get_meta(refusal_threshold_key(a.mode, embedder_id))
        return float(stored) if stored is not None else default_refusal_threshold(a.mode, embedder_id)

    def settings_snapshot(self) -> dict[str, Any]:
        """What produces this RAG's answers, JSON-ready (stored on every ``Answer.settings``)."""
        from .prompting import PROMPT_TEMPLATE_VERSION

        return {"answer": asdict(self.config.answer), "generator": self.generator_name,
                "template_version": PROMPT_TEMPLATE_VERSION, "embedder_id": self._embedder_id(),
                "retriever": self.retriever.name}

    # -- retrieval ---------------------------------------------------------------------------------
    def search(self, query: str, *, groups: Sequence[str] | None = None, filters: Filters | None = None,
               top_k: int | None = None) -> list[Hit]:
        """The configured retriever's best chunks for ``query`` (what ``ragqa search`` prints)."""
        if not query or not query.strip():
            raise ValueError("empty query: search for something, e.g. rag.search('VPN setup')")
        return self.retriever.retrieve(query, top_k=top_k or self.config.answer.top_k, filters=filters,
                                       groups=groups)

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
        """How much of the question's idf-weighted terms the hits contain (``rag_app.answerability``):
        those in its language, and, when some term is missing there, those in the other language
        through the configured dictionary; None without an index (a custom retriever alone). Without
        a hit in the question's language the check abstains (``applicable`` False)."""
        from .answerability import bridged_terms, question_terms, support_terms, synonym_terms, term_support

        if not self._uses_index():
            return None
        try:
            reader = self.reader
            analyzer = reader.analyzer
            q_terms = question_terms(question, analyzer)
            doc_freq, n_docs = reader.doc_freq(q_terms)
        except Exception:  # an index without a keyword side cannot judge: abstain
            return None
        same = [support_terms(h.chunk, analyzer) + synonym_terms(question, h.chunk, self._synonym_groups, analyzer)
                for h in hits if h.chunk.lang == lang]
        support = term_support(q_terms, same, doc_freq, n_docs)
        other = [h.chunk for h in hits if h.chunk.lang != lang]
        dictionary = self._dictionary
        # the dictionary only adds support: where no chunk is in the question's language the check
        # still abstains (a dictionary's recall is partial; it would refuse what it cannot bridge)
        if dictionary is None or not other or not support.applicable or not support.unsupported:
            return support
        bridged = [bridged_terms(q_terms, c, lang, dictionary, analyzer) for c in other]
        return term_support(q_terms, same + [b for b in bridged if b is not None], doc_freq, n_docs)

    # -- answering ------------------------------------------------------------------------------
    def prepare(self, question: str, *, groups: Sequence[str] | None = None, history: Sequence[Message] = (),
                filters: Filters | None = None) -> Prepared:
        """Retrieve, build the prompt with ``rag_app.prompting.build_prompt`` and decide whether to
        refuse before generation: everything ``ask`` does before a generator runs."""
        from . import injection
        from .prompting import build_prompt, detect_question_lang

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
        retrieval_s = time.perf_counter() - t0
        scans = tuple(injection.scan_many([h.chunk.text for h in hits])) if a.injection_defence else ()
        for h, sc in zip(hits, scans, strict=False):
            if sc.suspicious:
                flags += [f"context:{h.chunk.source}:{f}" for f in sc.flags]
        prompt = build_prompt(question, hits, lang, history, max_context_tokens=a.max_context_tokens,
                              transform_text=injection.neutralise if a.injection_defence else None)
        prompt = replace(prompt, synonyms=tuple(self._synonym_groups.matched_groups(question)),
                         glosses=self._prompt_glosses(question, lang, prompt.contexts))
        return Prepared(question=question, lang=lang, searched=searched, retrieved=tuple(hits), prompt=prompt,
                        refusal_reason=self._refusal_reason(searched, hits, lang),
                        injection_flags=tuple(flags), scans=scans, retrieval_s=retrieval_s)

    def _prompt_glosses(self, question: str, lang: str,
                        shown: Sequence[Hit]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``Prompt.glosses``: the dictionary's glosses of the question's and the blocks' words when
        some block is in another language than the question; () otherwise or without a dictionary."""
        from .answerability import gloss_table

        dictionary = self._dictionary
        if dictionary is None or not self._uses_index() or all(h.chunk.lang == lang for h in shown):
            return ()
        return gloss_table([question, *(h.chunk.text for h in shown)], dictionary, self.reader.analyzer)

    def _refusal_reason(self, searched: str, hits: Sequence[Hit], lang: str) -> str | None:
        """Why to refuse before generation, or None: no hits; the relevance gate (when both a
        signal and a threshold exist); dated documents none of which is of the asked years
        (``retrieval.periods.missing_period``); with the lexical-support gate on (``max_unsupported``),
        a name the question asks about that no hit holds (``retrieval.names.missing_names``), then
        the share of unsupported terms."""
        a = self.config.answer
        if not hits:
            return "no_hits"
        signal, threshold = relevance_signal(hits, a.mode), self.refusal_threshold()
        if signal is not None and threshold is not None and signal < threshold:
            return f"low_relevance:{signal:.4f}<{threshold:.4f}"
        missing = missing_period(searched, [h.chunk for h in hits])
        if missing:
            return "period_not_found:" + ",".join(sorted(missing))
        if a.max_unsupported is not None:
            names = missing_names(searched, [h.chunk for h in hits])
            if names:
                return "name_not_found:" + ",".join(names)
            support = self.lexical_support(searched, hits, lang)
            if support is not None and support.refuses(a.max_unsupported):
                return (f"unsupported_terms:{support.unsupported_share:.3f}>{a.max_unsupported:.3f}:"
                        + ",".join(support.unsupported))
        return None

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
        from .refusal import refusal_message

        t0 = time.perf_counter()
        prep = self.prepare(question, groups=groups, history=history, filters=filters)
        if prep.refusal_reason is not None:  # refused before any generator runs; what was found is returned
            text = refusal_message(prep.lang)
            yield AnswerEvent(delta=text)
            yield AnswerEvent(answer=self._answer(
                prep, text=text, citations=(), refused=True, generator="none", reason=prep.refusal_reason,
                flags=prep.injection_flags, raw_output=None, timings=self._timings(prep, t0, 0.0, 0.0),
                tokens={"prompt": 0, "completion": 0}))
            return
        gen = self.generator
        t_gen = time.perf_counter()
        first: list[float] = []
        result: GenerationResult | None = None
        for delta, res in self._generate(gen, prep.prompt, stream):
            if delta:
                if not first:
                    first.append(time.perf_counter() - t0)
                yield AnswerEvent(delta=delta)
            if res is not None:
                result = res
        assert result is not None
        generation_s = time.perf_counter() - t_gen
        yield AnswerEvent(answer=self._finish(prep, result, t0, first[0] if first else generation_s, generation_s))

    def _generate(self, gen: Generator, prompt: Prompt, stream: bool) -> Iterator[tuple[str, GenerationResult | None]]:
        """(delta, None) per streamed piece, then ("", result). A ``ContextGenerator`` is given the
        prompt as data; any other generator its messages."""
        a = self.config.answer
        mt, temp = a.max_tokens, a.temperature
        if not stream:
            if isinstance(gen, ContextGenerator):
                yield "", gen.generate_prompt(prompt, max_tokens=mt, temperature=temp)
            else:
                yield "", gen.generate(prompt.messages, max_tokens=mt, temperature=temp)
            return
        events = (gen.stream_prompt(prompt, max_tokens=mt, temperature=temp) if isinstance(gen, ContextGenerator)
                  else gen.stream(prompt.messages, max_tokens=mt, temperature=temp))
        parts: list[str] = []
        result: GenerationResult | None = None
        for ev in events:
            if ev.delta:
                parts.append(ev.delta)
                yield ev.delta, None
            if ev.done:
                result = ev.result
        yield "", result or GenerationResult(text="".join(parts), model=gen.name)

    def _finish(self, prep: Prepared, result: GenerationResult, t0: float, first_token: float,
                generation_s: float) -> Answer:
        from . import injection
        from .citations import parse_citations, resolve_citations
        from .refusal import is_refusal_text, refusal_message

        contexts = prep.prompt.contexts
        parsed = parse_citations(result.text, len(contexts))
        citations = resolve_citations(parsed, contexts)
        text = parsed.text.strip()
        refused = is_refusal_text(text, prep.lang)
        reason = "generator_refused" if refused else None
        flags = list(prep.injection_flags)
        if self.config.answer.injection_defence:
            obeyed = injection.check_answer_compliance(text, prep.scans, prep.prompt.system, expected_lang=prep.lang)
            if obeyed:
                flags += [f"answer:{f}" for f in obeyed]
                text, refused, reason, citations = refusal_message(prep.lang), True, "answer_followed_injection", ()
        return self._answer(
            prep, text=text, citations=tuple(citations), refused=refused, generator=self.generator_name,
            reason=reason, flags=tuple(flags), raw_output=result.text,
            timings=self._timings(prep, t0, first_token, generation_s),
            tokens={"prompt": result.prompt_tokens, "completion": result.completion_tokens,
                    "context_blocks": len(contexts), "dropped_blocks": prep.prompt.dropped},
            invalid=parsed.invalid, uncited=not refused and not citations)

    @staticmethod
    def _timings(prep: Prepared, t0: float, first_token: float, generation_s: float) -> dict[str, float]:
        return {"retrieval": prep.retrieval_s, "first_token": first_token, "generation": generation_s,
                "total": time.perf_counter() - t0}

    def _answer(self, prep: Prepared, *, text: str, citations: tuple[Any, ...], refused: bool, generator: str,
                reason: str | None, flags: tuple[str, ...], raw_output: str | None, timings: dict[str, float],
                tokens: dict[str, int], invalid: int = 0, uncited: bool = False) -> Answer:
        return Answer(
            question=prep.question, text=text, citations=citations, contexts=prep.prompt.contexts,
            refused=refused, generator=generator, refusal_reason=reason, invalid_citations=invalid,
            uncited=uncited, injection_flags=flags,
            rewritten_question=prep.searched if prep.searched != prep.question else None,
            timings=timings, tokens=tokens, retrieved=prep.retrieved,
            prompt=prep.prompt.messages if prep.retrieved else (), raw_output=raw_output,
            settings=self.settings_snapshot(),
        )

    # -- the index ------------------------------------------------------------------------------
    def status(self) -> IndexStatus:
        """What the index holds (``exists`` False before the first ingest)."""
        from .index_status import index_status

        return index_status(self.config.index)

    def ingest(self, paths: Sequence[Path | str], *, progress: bool | ProgressCallback = False,
               prune: bool = True, reindex: bool = False,
               distributed: RayIngestConfig | None = None) -> IngestReport:
        """Index files or folders into this RAG's index (``ragqa ingest``): incremental, crash-safe.
        ``progress``: True for a terminal bar, or a callback given an ``ingest.pipeline.IngestProgress``
        per step. ``distributed``: load, chunk and embed on a Ray cluster (``ingest.distributed``;
        the index's ``chroma_url`` must name a Chroma server). Searches running meanwhile keep
        answering; the next one sees the new documents."""
        from ingest.pipeline import Ingestor

        source = None
        if distributed is not None:
            from ingest.distributed import RaySource

            source = RaySource(distributed, embed_batch=self.config.index.embed_batch)
        return Ingestor(self.config.index, progress=progress, source=source).run(
            [Path(p) for p in paths], prune=prune, reindex=reindex)

    def documents(self, *, groups: Sequence[str] | None = None) -> list[DocumentInfo]:
        """The indexed documents ``groups`` may see (the retrievers' rule), by source."""
        from .index_status import list_documents

        return list_documents(self.config.index, groups)

    def remove(self, doc_ids: Sequence[str]) -> RemovalReport:
        """Delete documents (``DocumentInfo.doc_id``) from the index: catalog, vectors and keyword
        index (``ingest.removal``). Searches running meanwhile keep answering; the next one no longer
        sees them. A removed file still in an ingested folder returns with the next ingest of it."""
        from ingest.removal import remove_documents

        return remove_documents(self.config.index, doc_ids)

    def close(self) -> None:
        """Give back the index reader (the shared one closes when its last user closes)."""
        with self._lock:
            reader, self._reader = self._reader, None
            if not self._custom_retriever:
                self._retriever = None
        if reader is not None:
            if self._shared_reader:
                from . import shared_index

                shared_index.release(reader)
            else:
                reader.close()
