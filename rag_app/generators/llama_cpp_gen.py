"""Generator over a local GGUF model with llama.cpp (``llama_cpp.Llama``), CPU-only.

The model loads on the first call. Calls are serialised: one ``Llama`` holds one KV cache.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag_app.generators.llama_loading import open_llama
from rag_app.generators.messages import to_chat_dicts
from rag_app.types import GenerationResult, Message, StreamEvent

PIP_HINT = "pip install llama-cpp-python  (builds llama.cpp from source: ~10-15 min on 2 cores)"


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ImportError(f"the llama.cpp generator needs llama-cpp-python: {PIP_HINT}") from exc
    return llama_cpp


class LlamaCppGenerator:
    """``Generator`` over ``Llama.create_chat_completion``. ``chat_format=None`` uses the chat
    template stored in the GGUF. ``n_ctx`` is in tokens (prompt + answer). ``adapter_dir``: a
    ragqa adapter directory holding ``adapter-lora.gguf`` (``ragqa finetune export-gguf``),
    applied by llama.cpp at load; refused unless its manifest names this base file."""

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        n_ctx: int = 4096,
        n_threads: int | None = None,
        chat_format: str | None = None,
        *,
        seed: int = 0,
        name: str | None = None,
        adapter_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.adapter_dir = Path(adapter_dir) if adapter_dir is not None else None
        if n_ctx <= 0:
            raise ValueError(f"n_ctx is {n_ctx}; it must be > 0 tokens")
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.chat_format = chat_format
        self.seed = seed
        self.name = name or f"llama-cpp:{self.model_path}"
        self._llama: Any = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"LlamaCppGenerator(model_path={str(self.model_path)!r}, n_ctx={self.n_ctx})"

    def _get_llama(self) -> Any:
        with self._lock:
            if self._llama is None:
                llama_cpp = _import_llama_cpp()
                if not self.model_path.is_file():
                    raise FileNotFoundError(
                        f"GGUF model {self.model_path} does not exist: see `ragqa models list`")
                self._llama = open_llama(
                    llama_cpp, model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                    chat_format=self.chat_format, seed=self.seed, verbose=False, **self._lora())
            return self._llama

    def _lora(self) -> dict[str, Any]:
        """``lora_path`` for llama.cpp after the manifest check (empty without an adapter)."""
        if self.adapter_dir is None:
            return {}
        from rag_app.generators.adapters import GGUF_LORA_FILE, check_compatible
        from rag_app.generators.hf_local import base_identity

        check_compatible(self.adapter_dir, *base_identity(self.model_path))
        lora = self.adapter_dir / GGUF_LORA_FILE
        if not lora.is_file():
            raise FileNotFoundError(
                f"{lora} is missing: convert the adapter with `ragqa finetune export-gguf {self.adapter_dir} "
                f"--base {self.model_path}`, or serve it with --generator 'hf:{self.model_path}#adapter={self.adapter_dir}'")
        return {"lora_path": str(lora)}

    def generate(self, messages: Sequence[Message], *, max_tokens: int = 512,
                 temperature: float = 0.0) -> GenerationResult:
        chat = to_chat_dicts(messages)
        _check_max_tokens(max_tokens)
        with self._lock:
            llama = self._get_llama()
            resp = llama.create_chat_completion(messages=chat, max_tokens=max_tokens, temperature=temperature)
        choice = resp["choices"][0]
        usage = resp.get("usage") or {}
        return GenerationResult(
            text=(choice["message"].get("content") or "").strip(),
            model=self.name,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason") or "stop")

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 512,
               temperature: float = 0.0) -> Iterator[StreamEvent]:
        chat = to_chat_dicts(messages)
        _check_max_tokens(max_tokens)
        with self._lock:  # held while the caller consumes: the model serves one stream at a time
            llama = self._get_llama()
            llama_cpp = _import_llama_cpp()
            counts = _TokenCounts()
            llama.generate = counts.wrap(llama.generate, llama_cpp, llama)  # instance attr shadows the method
            try:
                chunks = llama.create_chat_completion(messages=chat, max_tokens=max_tokens,
                                                      temperature=temperature, stream=True)
                parts: list[str] = []
                finish = "stop"
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    delta = (choice.get("delta") or {}).get("content")
                    if not parts and delta:
                        delta = delta.lstrip()  # as generate(): no leading space/newline
                    if delta:
                        parts.append(delta)
                        yield StreamEvent(delta=delta)
            finally:
                del llama.generate
        yield StreamEvent(done=True, result=GenerationResult(
            text="".join(parts).rstrip(), model=self.name, prompt_tokens=counts.prompt,
            completion_tokens=counts.completion, finish_reason=finish))


class _TokenCounts:
    """Token counts of one streamed completion, which llama-cpp-python does not report: it
    calls ``Llama.generate(prompt_tokens)`` once and keeps every yielded token that is not
    end-of-generation, as its non-streamed ``usage`` counts them."""

    def __init__(self) -> None:
        self.prompt = 0
        self.completion = 0

    def wrap(self, generate: Any, llama_cpp: Any, llama: Any) -> Any:
        def counting(tokens: Sequence[int], *args: Any, **kwargs: Any) -> Iterator[int]:
            self.prompt = len(tokens)
            for token in generate(tokens, *args, **kwargs):
                if not llama_cpp.llama_vocab_is_eog(llama._model.vocab, token):
                    self.completion += 1
                yield token
        return counting


def _check_max_tokens(max_tokens: int) -> None:
    if max_tokens <= 0:
        raise ValueError(f"max_tokens is {max_tokens}; it must be > 0")
