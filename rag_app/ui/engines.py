"""One shared ``RAG`` per answer configuration, all over one opened index.

The page keeps one ``Engines`` per process (``st.cache_resource``): every browser session asks
through it, so the index opens once and each generator loads once, whatever the sessions pick.
A configuration is (generator spec, retrieval mode, top-k); configurations with the same
generator share that generator object (``RAG.with_settings`` keeps it), so moving the top-k slider
never loads a model again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rag_app.rag import RAG


@dataclass(frozen=True, slots=True)
class EngineKey:
    generator: str
    mode: str
    top_k: int


class Engines:
    """Thread-safe memo of ``RAG`` objects derived from ``base`` with ``with_settings``."""

    def __init__(self, base: RAG) -> None:
        self.base = base
        self._by_generator: dict[str, RAG] = {}
        self._by_key: dict[EngineKey, RAG] = {}
        self._lock = threading.Lock()

    def get(self, key: EngineKey) -> RAG:
        with self._lock:
            rag = self._by_key.get(key)
            if rag is None:
                rag = self._generator_rag(key.generator).with_settings(mode=key.mode, top_k=key.top_k)
                self._by_key[key] = rag
            return rag

    def _generator_rag(self, spec: str) -> RAG:
        rag = self._by_generator.get(spec)
        if rag is None:
            rag = self.base if spec == self.base.config.answer.generator else self.base.with_settings(generator=spec)
            _ = rag.generator  # built now (cheap: models load on first use), so every derived RAG shares it
            self._by_generator[spec] = rag
        return rag

    def configurations(self) -> list[EngineKey]:
        with self._lock:
            return list(self._by_key)
