"""The data builder over a real index (hashing embedder): RAFT records cite their oracle block,
refusal records show no oracle, no article is on both sides of the split, the prompts are the
answer path's own, Alpaca + card files are consistent, and bad input is reported by line."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.types import Chunk
from rag_app import PROMPT_TEMPLATE_VERSION, build_prompt
from rag_app.finetune.card import read_card
from rag_app.finetune.data import merge_data
from rag_app.finetune.raft import contains_answer, raft_record
from rag_app.finetune.records import read_jsonl
from rag_app.finetune.sources import GoldQuestion, read_feedback, read_gold
from rag_app.finetune.split import split_groups
from rag_app.prompting import parse_context_blocks
from rag_app.refusal import REFUSAL_MESSAGES
from retrieval.types import Hit


def _block_of(record: dict[str, Any], n: int) -> str:
    blocks = parse_context_blocks(record["prompt"][-1]["content"])
    return next(b.text for b in blocks if b.n == n)


def test_raft_records_cite_the_oracle_block(built_data: Any) -> None:
    rows = read_jsonl(built_data.files["train"]) + read_jsonl(built_data.files["valid"])
    raft = [r for r in rows if r["meta"]["kind"] == "raft"]
    assert raft and all(r["meta"]["template_version"] == PROMPT_TEMPLATE_VERSION for r in rows)
    for r in raft:
        n = r["meta"]["oracle_n"]
        target = r["completion"][0]["content"]
        assert target.endswith(f"[{n}]")
        answer = target.removesuffix(f"[{n}]").strip()
        assert contains_answer(_block_of(r, n), [answer])


def test_refusal_records_show_no_oracle(built_data: Any) -> None:
    rows = read_jsonl(built_data.files["train"]) + read_jsonl(built_data.files["valid"])
    refusals = [r for r in rows if r["meta"]["kind"] == "refusal"]
    assert refusals
    for r in refusals:
        assert r["completion"][0]["content"] == REFUSAL_MESSAGES[r["meta"]["lang"]]
        sources = [b.source for b in parse_context_blocks(r["prompt"][-1]["content"])]
        assert r["meta"]["source"] not in sources


def test_no_article_in_both_splits(built_data: Any) -> None:
    card = read_card(built_data.out_dir)
    assert not set(card["splits"]["train"]) & set(card["splits"]["valid"])
    by_split: dict[str, set[str]] = {"train": set(), "valid": set()}
    for split in ("train", "valid"):
        for r in read_jsonl(built_data.files[split]):
            by_split[split].add(r["meta"]["group"])
    assert by_split["valid"] and not by_split["train"] & by_split["valid"]


def test_prompt_is_the_answer_paths_own(built_data: Any) -> None:
    """Rebuilding a record's prompt with rag_app.build_prompt from its blocks gives the same messages."""
    r = read_jsonl(built_data.files["train"])[0]
    blocks = parse_context_blocks(r["prompt"][-1]["content"])
    hits = [Hit(Chunk(id=str(b.n), doc_id="d", text=b.text, source=b.source, start=0, end=len(b.text), ordinal=0),
                score=1.0, retriever="t") for b in blocks]
    question = r["meta"]["question"]
    rebuilt = build_prompt(question, hits, r["meta"]["lang"], max_context_tokens=1500)
    assert [m.to_dict() for m in rebuilt.messages] == r["prompt"]


def test_alpaca_and_card(built_data: Any) -> None:
    alpaca = json.loads(built_data.files["alpaca_train"].read_text(encoding="utf-8"))
    train = read_jsonl(built_data.files["train"])
    assert len(alpaca) == len(train)
    assert set(alpaca[0]) == {"instruction", "input", "output"}
    assert alpaca[0]["instruction"] == train[0]["prompt"][0]["content"]
    assert alpaca[0]["output"] == train[0]["completion"][0]["content"]
    card = read_card(built_data.out_dir)
    assert card["template_version"] == PROMPT_TEMPLATE_VERSION
    assert card["sources"][0]["license"].startswith("CC-BY-SA-4.0")
    assert len(card["sources"][0]["sha256"]) == 64
    n_train = sum(r["n"] for r in card["counts"] if r["split"] == "train" and r["kind"] in ("raft", "refusal"))
    assert n_train == len(train)
    assert {r["lang"] for r in card["counts"]} == {"en", "ja"}
    closed = read_jsonl(built_data.files["closed_book_train"])
    # the closed-book prompt the evaluation serves with: [system, user], no context blocks
    assert closed and all([m["role"] for m in r["prompt"]] == ["system", "user"]
                          and "<context" not in r["prompt"][-1]["content"] for r in closed)


def test_merge_refuses_a_document_in_both_splits(built_data: Any, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    card = read_card(built_data.out_dir)
    card["splits"] = {"train": card["splits"]["valid"], "valid": []}
    (other / "data_card.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ValueError, match="documents in both splits"):
        merge_data([built_data.out_dir, other], tmp_path / "merged")
    merged = merge_data([built_data.out_dir], tmp_path / "one")
    assert read_card(merged.parent)["splits"] == read_card(built_data.out_dir)["splits"]


def test_bad_input_is_reported_by_line_and_skipped(tmp_path: Path) -> None:
    """read_gold over rag_app.qa_file (whose messages tests/rag_app/test_qa_file.py pins): a gold
    line needs an answer and its source; a SQuAD answer must be in its paragraph."""
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"id": "a", "question": "Q?", "answer": "x", "answerable": true, "source": "d.md"}\n'
                  "{not json\n"
                  '{"id": "c", "question": "Q2?", "answerable": true, "source": "d.md"}\n'
                  '{"id": "d", "answer": "y", "source": "d.md"}\n'
                  '{"id": "e", "question": "Unanswerable?", "answerable": false}\n', encoding="utf-8")
    read = read_gold(qa)
    assert [q.qid for q in read.questions] == ["a", "e"] and read.kind == "qa.jsonl" and read.lines == 5
    assert not read.questions[1].answerable and read.questions[1].group == "unanswerable:5"
    assert read.questions[0].group == "d.md" and read.questions[0].answers == ("x",)
    assert [i.where for i in read.issues] == [f"{qa}:2", f"{qa}:3", f"{qa}:4"]
    assert "not valid JSON" in read.issues[0].reason and "without an answer" in read.issues[1].reason
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert read_gold(empty).issues[0].reason == "empty file"
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [{"context": "abc", "qas": [
        {"id": "s1", "question": "q?", "answers": [{"text": "zzz", "answer_start": 0}]}]}]}]}), encoding="utf-8")
    got = read_gold(squad)
    assert not got.questions and got.issues[0].reason == "answer not in its passage"
    assert got.issues[0].where.endswith("data[0].paragraphs[0].qas[0]")
    assert got.kind == "squad" and got.corpus is not None and got.corpus.docs == {"000-T/000.txt": "abc"}


def test_licences_of_the_public_sets() -> None:
    from rag_app.finetune.sources import OWN_DATA_LICENSE, license_of

    assert license_of(Path("datasets/jsquad/valid-v1.3.json")).startswith("CC-BY-SA-4.0 (JSQuAD")
    assert license_of(Path("datasets/squad/dev-v1.1.json")).startswith("CC-BY-SA-4.0 (SQuAD")
    assert license_of(Path("docs_corpus/qa.jsonl")) == OWN_DATA_LICENSE


def test_feedback_reader(tmp_path: Path) -> None:
    fb = tmp_path / "fb.jsonl"
    fb.write_text(
        '{"question": "Q?", "answer": "A [1]", "rating": "good", "contexts": ["c1"]}\n'
        '{"question": "Q?", "answer": "B", "rating": "meh", "contexts": ["c1"]}\n'
        '{"question": "Q?", "answer": {"text": "C"}, "rating": "bad", "context_ids": ["c1"], '
        '"corrected_answer": "D [1]"}\n', encoding="utf-8")
    read = read_feedback(fb)
    assert [(f.rating, f.answer, f.corrected) for f in read.feedback] == [("good", "A [1]", ""), ("bad", "C", "D [1]")]
    assert read.issues[0].where == f"{fb}:2" and "rating 'meh'" in read.issues[0].reason


# -- property tests on the pure record builder and the split ------------------------------------

def _hit(i: int, text: str, source: str) -> Hit:
    return Hit(Chunk(id=f"c{i}", doc_id=source, text=text, source=source, start=0, end=len(text), ordinal=0),
               score=1.0 / (i + 1), retriever="t")


words = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(answer=words, n_distractors=st.integers(0, 6), seed=st.integers(0, 10_000), with_oracle=st.booleans(),
       budget=st.integers(40, 3000), lang=st.sampled_from(["en", "ja"]))
def test_raft_record_properties(answer: str, n_distractors: int, seed: int, with_oracle: bool, budget: int,
                                lang: str) -> None:
    q = GoldQuestion(qid="q", question="What is it?", answers=(answer,), source="gold.txt", group="g", lang=lang,
                     origin="t")
    oracle = _hit(0, f"The value is {answer} here.", "gold.txt")
    distractors = [_hit(i, f"Unrelated text number {i} " * (i + 1), f"d{i}.txt") for i in range(1, n_distractors + 1)]
    rec = raft_record(q, oracle if with_oracle else None, distractors, split="train", rng=random.Random(seed),
                      max_context_tokens=budget)
    blocks = parse_context_blocks(rec.messages[-1].content)
    if with_oracle:
        assert rec.kind == "raft" and rec.target == f"{answer} [{rec.oracle_n}]"
        assert rec.oracle_n is not None
        assert blocks[rec.oracle_n - 1].source == "gold.txt"
        assert answer in blocks[rec.oracle_n - 1].text or blocks[rec.oracle_n - 1].text == oracle.chunk.text[
            : len(blocks[rec.oracle_n - 1].text)]
    else:
        assert rec.kind == "refusal" and rec.oracle_n is None and rec.target == REFUSAL_MESSAGES[lang]
        assert all(b.source != "gold.txt" for b in blocks)


@settings(max_examples=100, deadline=None)
@given(groups=st.lists(st.text(min_size=1, max_size=8), min_size=0, max_size=40),
       share=st.floats(0.0, 0.9), seed=st.integers(0, 1000))
def test_split_is_by_group_and_deterministic(groups: list[str], share: float, seed: int) -> None:
    split = split_groups(groups, share, seed)
    assert set(split) == set(groups) and set(split.values()) <= {"train", "valid"}
    assert split == split_groups(list(reversed(groups)), share, seed)  # input order does not matter
    if share > 0 and len(set(groups)) >= 2:
        assert "valid" in split.values() and "train" in split.values()


def test_feedback_written_by_the_page_is_read_once_per_answer_at_its_newest_revision(tmp_path: Path) -> None:
    from ingest.types import Chunk
    from rag_app.types import Answer, Citation
    from rag_app.ui.feedback import FeedbackRecord, FeedbackStore
    from retrieval.types import Hit

    chunk = Chunk(id="c1", doc_id="d", text="Twenty days.", source="leave.md", start=0, end=12, ordinal=0)
    answer = Answer(question="How many days?", text="Ten days [1].", refused=False, generator="extractive",
                    citations=(Citation(1, "c1", "leave.md", None, ""),),
                    contexts=(Hit(chunk=chunk, score=1.0, retriever="hybrid", rank=1),))
    store = FeedbackStore(tmp_path / "feedback.jsonl")
    first = FeedbackRecord.new(user="aiko", groups=["hr"], answer=answer, rating="down")
    store.append(first)
    store.append(first.revised(comment="wrong", corrected_answer="Twenty days [1]."))
    read = read_feedback(tmp_path / "feedback.jsonl")
    assert read.issues == ()
    assert [(f.rating, f.answer, f.corrected, f.contexts) for f in read.feedback] == \
        [("bad", "Ten days [1].", "Twenty days [1].", ("c1",))]
    assert read.feedback[0].citations and read.lines == 2
