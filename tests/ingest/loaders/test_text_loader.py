from __future__ import annotations

import codecs
import random
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.loaders import LoadError, load_blocks
from ingest.loaders.text import detect_encoding, iter_normalized, iter_paragraphs
from ingest.types import BLOCK_SEPARATOR

JA = "社内規程の改定について。\n申請は月末までに提出してください。"
EN = "Expense reports are due on the last business day."


def texts(path: Path) -> list[str]:
    return [b.text for b in load_blocks(path)]


@pytest.mark.parametrize(
    ("encoding", "expected_codec"),
    [
        ("utf-8", "utf-8-sig"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp932", "cp932"),
        ("shift_jis", "cp932"),
        ("euc_jp", "euc_jp"),
        ("utf-16", "utf-16"),
    ],
)
def test_japanese_text_decodes_in_each_encoding(tmp_path: Path, encoding: str, expected_codec: str) -> None:
    path = tmp_path / f"note-{encoding}.txt"
    path.write_bytes(f"{JA}\n\n{EN}\n".encode(encoding))
    assert detect_encoding(path) == expected_codec
    assert texts(path) == [JA, EN]


def test_euc_jp_is_not_mistaken_for_cp932_katakana(tmp_path: Path) -> None:
    # EUC-JP bytes of kana-heavy text also decode as CP932 half-width katakana.
    text = "ひらがなとカタカナのぶんしょうです。" * 20
    path = tmp_path / "kana.txt"
    path.write_bytes(text.encode("euc_jp"))
    assert texts(path) == [text]


def test_multibyte_char_cut_at_sniff_boundary_still_detects(tmp_path: Path) -> None:
    # 64 KiB sniff window ends inside a 3-byte UTF-8 character: not an error.
    text = "a" + "日本語" * 30_000
    path = tmp_path / "long.txt"
    path.write_bytes(text.encode("utf-8"))
    assert detect_encoding(path) == "utf-8-sig"
    assert "".join(texts(path)).replace("\n", "") == text


def test_paragraphs_split_on_blank_lines_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"first line\r\nsame paragraph\r\n\r\n  \r\nsecond\rthird\r\n")
    assert texts(path) == ["first line\nsame paragraph", "second\nthird"]


def test_control_characters_and_nul_free_blocks(tmp_path: Path) -> None:
    path = tmp_path / "ctl.txt"
    path.write_bytes(b"tab\there\x07bell\x1b[0m\x7f\n\x0c\nnext")
    blocks = texts(path)
    assert blocks == ["tab\therebell[0m", "next"]


def test_latin1_text_falls_back_to_charset_normalizer(tmp_path: Path) -> None:
    text = "Le café est fermé à midi. Réunion générale à l'hôtel de ville.\n" * 20
    path = tmp_path / "fr.txt"
    path.write_bytes(text.encode("cp1252"))
    assert "café" in texts(path)[0]


def test_over_long_line_is_cut_without_losing_text(tmp_path: Path) -> None:
    sentence = "これは改行のない長い文書です。"
    text = sentence * 10_000  # 150k chars, no newline, no space
    path = tmp_path / "oneline.txt"
    path.write_bytes(text.encode("utf-8"))
    blocks = texts(path)
    assert len(blocks) > 1
    assert all(len(b) <= 32 * 1024 for b in blocks)
    assert "".join(blocks) == text
    assert all(b.endswith("。") for b in blocks)


@given(
    st.lists(st.text(alphabet=st.sampled_from("ab あ\n\r\t "), max_size=40), max_size=20), st.integers(1, 7)
)
@settings(max_examples=200, deadline=None)
def test_paragraph_splitting_is_independent_of_piece_boundaries(parts: list[str], cut: int) -> None:
    text = "".join(parts)
    pieces = [text[i : i + cut] for i in range(0, len(text), cut)]
    whole = [p.strip() for p in iter_paragraphs(iter_normalized([text])) if p.strip()]
    streamed = [p.strip() for p in iter_paragraphs(iter_normalized(pieces)) if p.strip()]
    assert streamed == whole
    for p in streamed:
        assert BLOCK_SEPARATOR not in p.replace("\r", "")


def test_large_text_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    rng = random.Random(0)
    words = ["alpha", "beta", "gamma", "規程", "申請", "delta", "epsilon"]
    paragraph = "\n".join(" ".join(rng.choice(words) for _ in range(60)) for _ in range(10))
    unit = (paragraph + "\n\n").encode("utf-8")
    with path.open("wb") as f:
        while f.tell() < 50 * 1024 * 1024:
            f.write(unit * 64)
    size = path.stat().st_size
    tracemalloc.start()
    start = time.perf_counter()
    try:
        n = 0
        chars = 0
        for block in load_blocks(path):
            n += 1
            chars += len(block.text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - start
    assert n == size // len(unit)
    assert chars > 40 * 1024 * 1024 // 2
    assert peak < 30 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB file"
    assert elapsed < 300


def test_streaming_reads_incrementally(tmp_path: Path) -> None:
    # The first block arrives before the rest of a 6 MiB file is decoded: blocks are lazy.
    path = tmp_path / "six.txt"
    path.write_bytes(("para\n\n" * (1024 * 1024)).encode())
    tracemalloc.start()
    try:
        blocks = load_blocks(path)
        first = next(iter(blocks))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first.text == "para"
    assert peak < 5 * 1024 * 1024


@pytest.mark.parametrize("suffix", ["txt", "md", "csv"])
def test_random_bytes_with_text_extension_are_binary(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"junk.{suffix}"
    path.write_bytes(random.Random(1).randbytes(4096))
    with pytest.raises(LoadError, match="binary data in a text file"):
        list(load_blocks(path))


def test_junk_without_nul_bytes_is_binary(tmp_path: Path) -> None:
    rng = random.Random(2)
    data = bytes(rng.choice([*range(1, 32), *range(128, 256)]) for _ in range(300))
    assert b"\x00" not in data
    path = tmp_path / "junk.txt"
    path.write_bytes(data)
    with pytest.raises(LoadError, match="binary data in a text file"):
        list(load_blocks(path))


def test_invalid_bytes_after_the_sniffed_head_are_replaced(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    head = ("ok line\n" * 10_000).encode()  # > 64 KiB of clean UTF-8
    path.write_bytes(head + b"\n\nbad \xff\xfe byte\n")
    blocks = texts(path)
    assert blocks[-1] == "bad \ufffd\ufffd byte"


def test_whitespace_only_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_bytes(codecs.BOM_UTF8 + b"  \n\n\t\n")
    with pytest.raises(LoadError, match="no text found"):
        list(load_blocks(path))
