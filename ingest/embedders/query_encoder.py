"""One query through a sentence-transformers model, fast: its transformer layers exported to ONNX
and run by ONNX Runtime; the token lookup, pooling and normalisation stay the model's own.

Why: a query is ~10-40 tokens, and at that size PyTorch spends a large share of the forward pass
dispatching small ops from Python. Measured here (2 cores, E5-small, one thread, 200 SQuAD +
JSQuAD questions, side by side, BENCHMARKS.md "Retrieval latency"): eager p50 ~22 ms, TorchScript
traced and frozen ~18 ms, ONNX Runtime ~13 ms, cosine to eager
>= 0.9999999 on every question. Batches of passages keep the eager path: there the matrix
products dominate and padding varies.

What is exported: the encoder *without* its word-embedding table (``inputs_embeds`` in, last
hidden state out; E5's table is 250k x 384 floats = 384 MB, the layers 86 MB). Exporting takes
about 1 s on the first query, in memory (nothing is written to disk), so no cache can go stale.

When: building it (export ~1 s, probe check) costs about 1.5-2 s once and saves ~10 ms a query,
so it pays off only in a process that asks many questions (a server, ``ragqa chat``, Streamlit, a
benchmark). The embedder answers its first ``FAST_AFTER_QUERIES`` queries eagerly and builds the
fast path on the next one: a one-shot ``ragqa search`` / ``ragqa ask`` never pays for it.

Threads: ONNX Runtime runs the query on ``threads`` intra-op threads (default 1) with spinning
off. Spinning workers are what made two torch threads lose (hybrid end-to-end p95 131 ms at 100k
chunks: they starve the search threads that run right after the encoder).

Safety: the exported graph is checked against the eager model on probe texts of several lengths
and both languages; a failure to export, a missing ``onnx``/``onnxruntime``, or a cosine below
``MIN_AGREEMENT`` keeps the eager path (logged once). The encoder is an optimisation, never a
different model.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

MIN_AGREEMENT = 0.9999  # cosine to the eager output on every probe text
FAST_AFTER_QUERIES = 5  # single queries answered eagerly before the fast path is built
EXPORT_TEXT = "query: how many days of paid leave do new employees get"
PROBE_TEXTS = (
    "query: a",
    "query: 入社6か月後に付与される年次有給休暇は何日ですか？",
    "query: Which Normans were the first to arrive in southern Italy, and what did they do "
    "there in the decades after they settled, according to the chronicles of the period?",
)
ONNX_OPSET = 17


class OnnxQueryEncoder:
    """``encode(text)`` -> (dim,) float32, L2-normalised, for one text (prefix included).

    Built by :func:`onnx_query_encoder`; holds the sentence-transformers model (tokenizer, word
    embeddings, pooling) and an ONNX Runtime session over its transformer layers. Thread-safe:
    ``InferenceSession.run`` is, and the torch parts are a table lookup and a mean.
    """

    def __init__(self, model: Any, session: Any, threads: int) -> None:
        self._model = model
        self._session = session
        first, *rest = list(model)
        self._embeddings = first.auto_model.get_input_embeddings()
        self._rest = rest  # pooling, normalisation: run as they are
        self.threads = threads

    def encode(self, text: str) -> npt.NDArray[np.float32]:
        import torch

        features = self._model.preprocess([text])
        mask = features["attention_mask"]  # (1, T) int64, all ones: one text, no padding
        with torch.inference_mode():
            embeds = self._embeddings(features["input_ids"]).float().numpy()  # (1, T, hidden)
            hidden = self._session.run(None, {"inputs_embeds": embeds, "attention_mask": mask.numpy()})[0]
            features["token_embeddings"] = torch.from_numpy(hidden)  # (1, T, hidden)
            for module in self._rest:
                features = module(features)
            vec = features["sentence_embedding"][0].float().numpy()  # (dim,)
        norm = float(np.linalg.norm(vec))
        return (vec / norm if norm > 0 else vec).astype(np.float32)


def _eager(model: Any, text: str) -> npt.NDArray[np.float32]:
    vec = model.encode([text], convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vec, dtype=np.float32)[0]


def export_layers(model: Any) -> bytes:
    """The ONNX bytes of ``model``'s first module's transformer, from ``inputs_embeds`` (1, T,
    hidden) float32 and ``attention_mask`` (1, T) int64 to the last hidden state (1, T, hidden);
    T is dynamic. Raises when the model is no sentence-transformers text transformer."""
    import torch

    first = next(iter(model))
    auto = getattr(first, "auto_model", None)
    if auto is None or not hasattr(auto, "get_input_embeddings"):
        raise TypeError(f"{type(first).__name__} has no Hugging Face transformer to export")
    layers: Any = auto

    class _Layers(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.auto = layers

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.auto(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state

    features = model.preprocess([EXPORT_TEXT])
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # TracerWarnings about shape-dependent branches (padding: none here, batch 1); the probe
        # check in onnx_query_encoder catches an export that went wrong
        warnings.simplefilter("ignore")
        embeds = layers.get_input_embeddings()(features["input_ids"]).float()
        # the TorchScript-based exporter (dynamo=False: the dynamo one needs onnxscript) writes to
        # a file object too; the stubs only name paths
        torch.onnx.export(_Layers().eval(), (embeds, features["attention_mask"]), buf,  # type: ignore[arg-type]
                          input_names=["inputs_embeds", "attention_mask"], output_names=["hidden"],
                          dynamic_axes={"inputs_embeds": {1: "T"}, "attention_mask": {1: "T"}, "hidden": {1: "T"}},
                          opset_version=ONNX_OPSET, dynamo=False)
    return buf.getvalue()


def onnx_query_encoder(model: Any, threads: int = 1) -> OnnxQueryEncoder | None:
    """An :class:`OnnxQueryEncoder` for a loaded ``SentenceTransformer`` whose first module is a
    Hugging Face text transformer, or None (eager stays) when ``onnx``/``onnxruntime`` are missing,
    the export fails, or the exported graph disagrees with the eager model on the probe texts."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    try:
        import onnx  # noqa: F401  (torch.onnx.export writes through it)
        import onnxruntime as ort
    except ImportError as exc:
        log.warning("query fast path off (eager stays): %s; pip install onnx onnxruntime "
                    "(both in ragqa's torch extra)", exc)
        return None
    try:
        graph = export_layers(model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only: no per-node warnings on stderr
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        enc = OnnxQueryEncoder(model, session, threads)
        for text in PROBE_TEXTS:
            agreement = float(enc.encode(text) @ _eager(model, text))
            if agreement < MIN_AGREEMENT:
                log.warning("query fast path off: the ONNX graph disagrees with eager (cosine %.6f on %r)",
                            agreement, text[:40])
                return None
        return enc
    except Exception as exc:  # an optimisation: any failure keeps the eager path
        log.warning("query fast path off (eager stays): %s: %s", type(exc).__name__, exc)
        return None


__all__ = ["FAST_AFTER_QUERIES", "MIN_AGREEMENT", "OnnxQueryEncoder", "export_layers", "onnx_query_encoder"]
