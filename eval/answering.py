"""Systems as objects that answer questions: a RAG system over a shared opened index, or a
closed-book one (the generator and the question alone). Both say what their answers depend on
(``identity``), which keys the stored answers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Protocol

from rag_app import RAG, Answer, Generator

from .closed_book import CLOSED_BOOK_TEMPLATE_VERSION, answer_closed_book
from .dataset import Question
from .metadata import HashCache, model_identity
from .systems import SystemSpec

INDEX_IDENTITY_FIELDS = ("index_dir", "documents", "chunks", "embedder_id", "dim", "analyzer", "format_version",
                         "generation")


class AnsweringSystem(Protocol):
    spec: SystemSpec

    def identity(self) -> dict[str, Any]:
        """Everything besides the question that changes an answer, JSON-ready."""
        ...

    def answer(self, q: Question) -> Answer:
        ...

    def close(self) -> None:
        ...


def make_system_generator(spec: str, threads: int | None) -> Generator:
    """The generator a spec names; ``threads`` goes to local llama.cpp models (on a busy machine one
    thread is faster than several spinning against each other). It does not change the answers."""
    from rag_app.generators.registry import make_generator, parse_spec

    local = parse_spec(spec).kind in ("local", "llama-cpp")
    return make_generator(spec, **({"n_threads": threads} if local and threads else {}))


def _spec_identity(spec: SystemSpec) -> dict[str, Any]:
    d = spec.to_dict()
    d.pop("label")
    d.pop("name")  # renaming a system does not change its answers
    return d


class RagSystem:
    """``rag`` answers (``RAG.stream``: the first-token time is real); built with
    ``RAG.with_settings`` from the run's one RAG per index, so every system shares the opened index."""

    def __init__(self, spec: SystemSpec, rag: RAG, hashes: HashCache) -> None:
        self.spec = spec
        self.rag = rag
        self._hashes = hashes

    def identity(self) -> dict[str, Any]:
        status = self.rag.status().to_dict()
        return {"system": _spec_identity(self.spec), "settings": self.rag.settings_snapshot(),
                "index": {k: status[k] for k in INDEX_IDENTITY_FIELDS},
                "model": model_identity(self.spec.generator, self._hashes)}

    def answer(self, q: Question) -> Answer:
        final: Answer | None = None
        for ev in self.rag.stream(q.text, groups=list(q.groups) or None):
            if ev.answer is not None:
                final = ev.answer
        assert final is not None  # RAG.stream always ends with the Answer
        return final

    def close(self) -> None:
        self.rag.close()


class ClosedBookSystem:
    """The generator given only the question (``eval.closed_book``); answer settings (max_tokens,
    temperature) come from the run's configuration."""

    def __init__(self, spec: SystemSpec, rag: RAG, hashes: HashCache, threads: int | None = None) -> None:
        self.spec = spec
        self._answer_settings = rag.config.answer
        self._hashes = hashes
        self._threads = threads
        self._gen: Generator | None = None

    @property
    def generator(self) -> Generator:
        if self._gen is None:
            self._gen = make_system_generator(self.spec.generator, self._threads)
        return self._gen

    def settings(self) -> dict[str, Any]:
        a = self._answer_settings
        return {"closed_book": True, "generator": self.spec.generator, "template_version": CLOSED_BOOK_TEMPLATE_VERSION,
                "answer": {k: v for k, v in asdict(a).items() if k in ("max_tokens", "temperature")}}

    def identity(self) -> dict[str, Any]:
        return {"system": _spec_identity(self.spec), "settings": self.settings(),
                "model": model_identity(self.spec.generator, self._hashes)}

    def answer(self, q: Question) -> Answer:
        a = self._answer_settings
        return answer_closed_book(self.generator, q.text, q.lang, max_tokens=a.max_tokens,
                                  temperature=a.temperature, settings=self.settings())

    def close(self) -> None:
        self._gen = None  # a local model's memory goes with the last reference
