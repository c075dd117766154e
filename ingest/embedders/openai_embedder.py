"""OpenAI (or OpenAI-compatible) embeddings: an opt-in extra that sends text to a server."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class OpenAIEmbedder:
    backend = "openai"

    def __init__(self, model: str = "text-embedding-3-small", base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", dim: int | None = None, batch_size: int = 128) -> None:
        self.model = model
        self.model_id = f"openai:{model}"
        self.base_url = base_url or os.environ.get("RAGQA_OPENAI_BASE_URL")
        self.api_key_env = api_key_env
        if dim is None and model not in _DIMS:
            raise ValueError(f"unknown dimension for OpenAI embedding model {model!r}; pass dim=... "
                             f"(known: {sorted(_DIMS)})")
        self.dim = dim or _DIMS[model]
        self.batch_size = batch_size
        self._client: Any = None

    @property
    def max_tokens(self) -> int:
        return 8191

    def _load(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ImportError as e:  # pragma: no cover - depends on the environment
                raise ImportError("OpenAI embeddings need the openai SDK: pip install 'ragqa[openai]'") from e
            key = os.environ.get(self.api_key_env)
            if not key and not self.base_url:
                raise RuntimeError(f"OpenAI embeddings need an API key: set {self.api_key_env}")
            self._client = openai.OpenAI(api_key=key or "not-needed", base_url=self.base_url)
        return self._client

    def _embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        rows: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            resp = self._load().embeddings.create(model=self.model, input=list(texts[i : i + self.batch_size]))
            rows.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        m = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._embed(texts)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self._embed([text])[0]

    def count_tokens(self, text: str) -> int:
        # tiktoken would download its vocabulary at run time; ~4 chars per token is a safe bound.
        return len(text) // 3 + 1
