"""Generator over a local transformers model: a GGUF file (de-quantised to fp32 by transformers)
or a saved model directory, optionally with a peft LoRA adapter.

Slower than llama.cpp on the same GGUF, but it is the path fine-tuned LoRA adapters take.
Everything is read from local files (``local_files_only``): nothing is downloaded.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag_app.generators.adapters import AdapterManifest, check_compatible
from rag_app.generators.messages import plain_prompt, to_chat_dicts
from rag_app.types import GenerationResult, Message, StreamEvent

log = logging.getLogger(__name__)

TORCH_HINT = "pip install 'ragqa[torch]'  (after: pip install torch==2.13.0)"
PEFT_HINT = "pip install peft"


@dataclass(frozen=True, slots=True)
class _Loaded:
    model: Any
    tokenizer: Any
    adapter: AdapterManifest | None


def _import(name: str, hint: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(f"the transformers generator needs {name}: {hint}") from exc


def base_identity(model_path: Path) -> tuple[str, str | None]:
    """(base_model_id, sha256) of a base model: the catalogue name when a GGUF file's sha256 is a
    known model's, else the file or directory name. Directories have no single sha256 (None)."""
    from rag_app.models import CATALOGUE, sha256_file

    if model_path.is_dir():
        return model_path.name, None
    digest = sha256_file(model_path)
    for spec in CATALOGUE:
        if spec.sha256 == digest:
            return spec.name, digest
    return model_path.name, digest


class TransformersGenerator:
    """``Generator`` over ``AutoModelForCausalLM``. ``model_path``: a ``.gguf`` file or a model
    directory. ``adapter_dir``: a peft LoRA adapter with ``ragqa_adapter.json``; it is refused
    unless it names this base (``base_model_id`` overrides the id derived by ``base_identity``)."""

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        adapter_dir: str | os.PathLike[str] | None = None,
        *,
        base_model_id: str | None = None,
        n_threads: int | None = None,
        name: str | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.adapter_dir = Path(adapter_dir) if adapter_dir is not None else None
        self.base_model_id = base_model_id
        self.n_threads = n_threads
        self.name = name or ("hf:" + str(self.model_path)
                             + (f"#adapter={self.adapter_dir}" if self.adapter_dir else ""))
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TransformersGenerator(model_path={str(self.model_path)!r}, adapter_dir={self.adapter_dir!r})"

    # -- loading --------------------------------------------------------------------------------

    def _load(self) -> _Loaded:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load_now()
            return self._loaded

    def _load_now(self) -> _Loaded:
        path = self.model_path
        if not path.exists():
            raise FileNotFoundError(f"model path {path} does not exist: give a .gguf file or a model directory")
        manifest = None
        if self.adapter_dir is not None:  # check before the slow model load
            derived_id, sha = base_identity(path)
            manifest = check_compatible(self.adapter_dir, self.base_model_id or derived_id, sha)
        torch = _import("torch", TORCH_HINT)
        transformers = _import("transformers", TORCH_HINT)
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        if path.is_file():
            if path.suffix != ".gguf":
                raise ValueError(f"model file {path} is not a .gguf file; give a .gguf file or a model directory")
            _import("gguf", "pip install gguf")
            where, extra = str(path.parent), {"gguf_file": path.name}
        else:
            where, extra = str(path), {}
        tokenizer = transformers.AutoTokenizer.from_pretrained(where, local_files_only=True, **extra)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            where, local_files_only=True, dtype=torch.float32, **extra)
        if self.adapter_dir is not None:
            peft = _import("peft", PEFT_HINT)
            model = peft.PeftModel.from_pretrained(model, str(self.adapter_dir), is_trainable=False)
        model.eval()
        return _Loaded(model=model, tokenizer=tokenizer, adapter=manifest)

    # -- generation -----------------------------------------------------------------------------

    def _encode(self, tokenizer: Any, messages: Sequence[Message]) -> Any:
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(to_chat_dicts(messages), tokenize=False,
                                                 add_generation_prompt=True)
            return tokenizer(text, return_tensors="pt", add_special_tokens=False)
        return tokenizer(plain_prompt(messages), return_tensors="pt")

    def _gen_kwargs(self, loaded: _Loaded, enc: Any, max_tokens: int, temperature: float) -> dict[str, Any]:
        if max_tokens <= 0:
            raise ValueError(f"max_tokens is {max_tokens}; it must be > 0")
        tok = loaded.tokenizer
        kwargs: dict[str, Any] = dict(enc)
        kwargs["max_new_tokens"] = max_tokens
        kwargs["pad_token_id"] = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    def _result(self, loaded: _Loaded, n_prompt: int, new_ids: Any, text: str, max_tokens: int) -> GenerationResult:
        ids = [int(i) for i in new_ids]
        eos = loaded.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) | {loaded.tokenizer.eos_token_id}
        hit_eos = bool(ids) and ids[-1] in eos_ids
        return GenerationResult(
            text=text, model=self.name, prompt_tokens=n_prompt,
            completion_tokens=len(ids),
            finish_reason="length" if len(ids) >= max_tokens and not hit_eos else "stop")

    def generate(self, messages: Sequence[Message], *, max_tokens: int = 512,
                 temperature: float = 0.0) -> GenerationResult:
        loaded = self._load()
        torch = _import("torch", TORCH_HINT)
        enc = self._encode(loaded.tokenizer, messages)
        kwargs = self._gen_kwargs(loaded, enc, max_tokens, temperature)
        n_prompt = int(enc["input_ids"].shape[1])
        with torch.inference_mode():
            out = loaded.model.generate(**kwargs)
        new_ids = out[0, n_prompt:]
        text = loaded.tokenizer.decode(new_ids, skip_special_tokens=True)
        return self._result(loaded, n_prompt, new_ids, text.strip(), max_tokens)

    def stream(self, messages: Sequence[Message], *, max_tokens: int = 512,
               temperature: float = 0.0) -> Iterator[StreamEvent]:
        loaded = self._load()
        torch = _import("torch", TORCH_HINT)
        transformers = _import("transformers", TORCH_HINT)
        enc = self._encode(loaded.tokenizer, messages)
        kwargs = self._gen_kwargs(loaded, enc, max_tokens, temperature)
        n_prompt = int(enc["input_ids"].shape[1])
        streamer = transformers.TextIteratorStreamer(loaded.tokenizer, skip_prompt=True,
                                                     skip_special_tokens=True, timeout=600.0)
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                with torch.inference_mode():
                    box["out"] = loaded.model.generate(**kwargs, streamer=streamer)
            except BaseException as exc:  # re-raised in the consumer's thread below
                box["error"] = exc
                streamer.end()

        thread = threading.Thread(target=work, name="ragqa-hf-generate", daemon=True)
        thread.start()
        parts: list[str] = []
        for piece in streamer:
            if not parts:
                piece = piece.lstrip()  # as generate() strips: no leading newline/space delta
            if piece:
                parts.append(piece)
                yield StreamEvent(delta=piece)
        thread.join()
        if "error" in box:
            raise box["error"]
        new_ids = box["out"][0, n_prompt:]
        yield StreamEvent(done=True, result=self._result(
            loaded, n_prompt, new_ids, "".join(parts).strip(), max_tokens))
