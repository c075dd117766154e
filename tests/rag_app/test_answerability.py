"""Lexical support (rag_app/answerability.py): hand-computed shares, question words, the real
analyzer, and the gate in RAG.ask over a real index."""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import pytest

from ingest.analysis import get_analyzer
from rag_app.answerability import bm25_idf, question_terms, term_support
from rag_app.rag import RAG


def test_share_is_the_idf_weight_no_context_holds() -> None:
    # N = 10 chunks; "leave" in 4, "nagoya" in none, "office" in 2
    df = {"leave": 4, "office": 2}
    sup = term_support(["nagoya", "office", "leave", "office"], [["office", "x"], ["leave"]], df, 10)
    w = {t: math.log(1 + (10 - d + 0.5) / (d + 0.5)) for t, d in (("nagoya", 0), ("office", 2), ("leave", 4))}
    assert sup.terms == ("nagoya", "office", "leave")  # distinct, in question order
    assert sup.unsupported == ("nagoya",) and sup.absent == ("nagoya",)
    assert sup.unsupported_share == pytest.approx(w["nagoya"] / sum(w.values()))
    assert sup.unsupported_share == pytest.approx(0.5655, abs=1e-4)  # 3.0910 / (3.0910 + 1.4816 + 0.8938)
    assert sup.applicable and sup.refuses(0.5) and not sup.refuses(0.6)
    assert bm25_idf(0, 10) == pytest.approx(w["nagoya"]) and bm25_idf(10, 10) > 0


def test_abstains_without_terms_or_same_language_contexts() -> None:
    assert not term_support([], [["a"]], {"a": 1}, 5).applicable
    no_ctx = term_support(["a"], [], {"a": 1}, 5)
    assert not no_ctx.applicable and not no_ctx.refuses(0.0)
    full = term_support(["a", "b"], [["a"], ["b"]], {"a": 1, "b": 1}, 5)
    assert full.unsupported == () and full.unsupported_share == 0.0


def test_question_words_are_not_terms() -> None:
    an = get_analyzer("default")
    assert "mani" not in question_terms("How many days of sick leave do employees get?", an)
    assert "long" not in question_terms("How long are audit logs retained?", an)
    assert "long" in an.tokenize("How long are audit logs retained?")  # the analyzer alone keeps it
    ja = question_terms("名古屋オフィスの住所はどこですか？", an)
    assert "名古屋" in ja and "どこ" not in ja
    ja2 = question_terms("入社6か月後に付与される年次有給休暇は何日ですか？", an)
    assert not any("何" in t for t in ja2) and "有給" in "".join(ja2)
    assert "幾ら" not in question_terms("料金はいくらですか？", an)


def test_gate_refuses_a_question_about_what_the_corpus_never_mentions(tmp_path: Path) -> None:
    from ingest.pipeline import Ingestor
    from ingest.settings import IndexSettings
    from rag_app.config import AnswerSettings, RAGConfig
    from rag_app.rag import RAG

    root = tmp_path / "docs"
    root.mkdir()
    (root / "offices.md").write_text(
        "# Offices\n\nThe address of the Tokyo head office is 1-2-3 Marunouchi, Chiyoda-ku. "
        "The address of the Osaka office is 4-5-6 Umeda, Kita-ku. Both offices open at 9:00.\n", encoding="utf-8")
    (root / "leave.md").write_text(
        "# Leave\n\nEmployees get 10 days of annual leave after six months. "
        "Sick leave is paid for up to 5 days per year.\n", encoding="utf-8")
    settings = IndexSettings(index_dir=tmp_path / "idx", embedder="hashing")
    assert Ingestor(settings).run([root]).files_failed == []
    # refusal_threshold 0: the cosine gate passes everything, so only the lexical gate can refuse
    rag = RAG(RAGConfig(index=settings, answer=AnswerSettings(generator="extractive", refusal_threshold=0.0)))
    try:
        bad = rag.ask("What is the address of the Nagoya office?")
        assert bad.refused and bad.generator == "none"
        assert bad.refusal_reason is not None and bad.refusal_reason.startswith("unsupported_terms:")
        assert "nagoya" in bad.refusal_reason and bad.contexts  # what was found is still returned
        good = rag.ask("What is the address of the Osaka office?")
        assert not good.refused and "Umeda" in good.text
        off = RAG(RAGConfig(index=settings, answer=AnswerSettings(generator="extractive", refusal_threshold=0.0,
                                                                    max_unsupported=None)))
        assert not (off.ask("What is the address of the Nagoya office?").refusal_reason or "").startswith("unsupported")
        off.close()
    finally:
        rag.close()


def test_the_document_context_supports_entity_names_a_filing_never_repeats() -> None:
    """A 10-Q page says "we": the company, form and quarter are only in its document context."""
    from dataclasses import replace

    from ingest.analysis import get_analyzer
    from ingest.types import Chunk
    from rag_app.answerability import question_terms, support_terms, term_support

    analyzer = get_analyzer("default")
    text = "Net cash provided by operating activities was $28.8 billion in the quarter."
    chunk = Chunk(id="c", doc_id="d", text=text, source="MSFT_2023Q3_10Q.pdf", start=0, end=len(text), ordinal=0)
    with_context = replace(chunk, doc_context="Microsoft Corporation | FORM 10-Q | 2023 Q3 | MSFT 2023Q3 10Q")
    q = question_terms("What was Microsoft's net cash from operating activities in the 10-Q?", analyzer)
    df = {t: 1 for t in q}
    bare = term_support(q, [support_terms(chunk, analyzer)], df, 100)
    ctx = term_support(q, [support_terms(with_context, analyzer)], df, 100)
    assert "microsoft" in bare.unsupported and "microsoft" not in ctx.unsupported
    assert ctx.unsupported_share < bare.unsupported_share


def test_question_phrasing_and_period_shorthands_are_not_asked_for() -> None:
    from ingest.analysis import get_analyzer
    from rag_app.answerability import _period_year, question_terms

    analyzer = get_analyzer("default")
    terms = question_terms("What drove the reduction in SG&A expense as a percent of net sales in FY2023?", analyzer)
    assert "2023" in terms and "fy2023" not in terms  # the shorthand's year stays: the period is asked for
    assert not {"drove", "percent"} & set(terms)  # how the question is put, not what it is about
    assert {"sg", "expens", "sale"} <= set(terms)
    assert [_period_year(t) for t in ("fy", "q2", "fy2023q1", "q22023", "1h22", "2023", "10k", "3m")] == \
        ["", "", "2023", "2023", "2022", None, None, None]


def test_a_synonym_in_the_chunk_supports_the_questions_phrase() -> None:
    from dataclasses import dataclass

    from rag_app.answerability import synonym_terms
    from retrieval.synonyms import load_synonyms

    @dataclass
    class C:
        text: str
        doc_context: str = ""

    class Words:
        def tokenize(self, text: str) -> list[str]:
            return [w.strip(",.?()").lower() for w in text.split() if w.strip(",.?()")]

    row = C("Purchases of property, plant and equipment (PP&E) | 2018: (1,577)")
    q = "What was 3M's FY2018 capital expenditure?"
    got = synonym_terms(q, row, load_synonyms("finance"), Words())
    assert {"capital", "expenditure"} <= set(got)
    assert synonym_terms(q, C("Net sales rose."), load_synonyms("finance"), Words()) == []
    assert synonym_terms(q, row, load_synonyms("off"), Words()) == []


def test_instructions_around_a_question_are_not_its_terms() -> None:
    from rag_app.answerability import question_core

    assert question_core("What is Amazon's FY2017 days payable outstanding (DPO)? DPO is defined as: 365 * "
                         "(average payables). Round your answer to two decimal places.") == (
        "What is Amazon's FY2017 days payable outstanding  ?")
    assert question_core("Assume you are an analyst. What is 3M's net PPNE? Answer in USD billions.") == (
        "What is 3M's net PPNE?")
    assert question_core("Summarize the leave policy. Keep it short.") == "Summarize the leave policy. Keep it short."
    assert question_core("年次有給休暇は何日ですか？") == "年次有給休暇は何日ですか？"


def test_initials_hyphenated_words_and_ordinal_days_as_filings_write_them() -> None:
    """FinanceBench's own words: "JnJ" for JOHNSON & JOHNSON, "passthrough" for "pass-through",
    "1st July 2022" for "July 1, 2022"."""
    from ingest.types import Chunk
    from rag_app.answerability import support_terms
    from retrieval.names import initialisms

    analyzer = get_analyzer("default")
    assert initialisms("JOHNSON & JOHNSON | Form 10-K | fiscal year ended January 1, 2023") == ["jj", "jnj"]
    assert {"jj", "jnj"} <= set(initialisms("January 24, 2023 | JOHNSON JOHNSON 2022Q4 EARNINGS"))
    assert "amd" in initialisms("ADVANCED MICRO DEVICES, INC. | Form 10-K")
    assert initialisms("Form 10-K") == []  # one word: no initials
    text = "Sales rose 3 % excluding the pass-through of raw material costs."
    chunk = Chunk(id="c", doc_id="d", text=text, source="x.pdf", start=0, end=len(text), ordinal=0,
                  doc_context="JOHNSON & JOHNSON | Form 10-Q")
    q = question_terms("Did JnJ's sales grow excluding passthrough costs on 1st July 2022?", analyzer)
    assert "1st" not in q and "2022" in q
    support = term_support(q, [support_terms(chunk, analyzer)], {t: 1 for t in q}, 100)
    assert not {"jnj", "passthrough"} & set(support.unsupported)
    assert "2022" in support.unsupported  # the rest is still asked for


class _Dictionary:
    """A two-word Japanese-English dictionary: the tests below fix what it knows."""

    languages = ("ja", "en")
    table: ClassVar[dict[str, tuple[str, ...]]] = {"監査": ("inspection", "audit"), "証明書": ("certificate (usually of proof of something)",),
             "有効期間": ("term of validity",), "月額": ("monthly amount",)}

    def glosses(self, word: str) -> tuple[str, ...]:
        return self.table.get(word, ())


class _Block:
    def __init__(self, text: str, lang: str, doc_context: str = "") -> None:
        self.text, self.lang, self.doc_context = text, lang, doc_context


def test_a_japanese_chunk_supports_the_english_words_of_its_glosses() -> None:
    from rag_app.answerability import bridged_terms, translated_terms

    an = get_analyzer("default")
    assert translated_terms(["監査", "ログ", "監査"], _Dictionary(), an) == ["inspect", "audit"]
    got = bridged_terms(["audit", "log"], _Block("監査ログは7年間保存する。", "ja"), "en", _Dictionary(), an)
    assert got is not None and "audit" in got and "7" in got  # glosses, and the chunk's numbers as they are


def test_an_english_chunk_supports_a_japanese_term_only_with_a_whole_gloss() -> None:
    from rag_app.answerability import bridged_terms, glossed_terms

    an = get_analyzer("default")
    chunk = set(an.tokenize("The device certificate is valid for 365 days."))
    # 証明書's gloss without its aside is "certificate"; 有効期間 needs "term" too; 月額's "amount" frames
    assert glossed_terms(["証明書", "有効期間", "vpn"], chunk, _Dictionary(), an) == ["証明書"]
    assert glossed_terms(["月額"], set(an.tokenize("billed monthly")), _Dictionary(), an) == ["月額"]
    en = _Block("The device certificate is valid for 365 days.", "en")
    assert "証明書" in (bridged_terms(["証明書"], en, "ja", _Dictionary(), an) or [])
    assert bridged_terms(["x"], _Block("texte", "fr"), "en", _Dictionary(), an) is None  # a pair it does not bridge


def test_gloss_table_holds_the_words_the_dictionary_knows_in_first_seen_order() -> None:
    from rag_app.answerability import gloss_table

    an = get_analyzer("default")
    table = gloss_table(["VPNの証明書", "監査ログと証明書"], _Dictionary(), an)
    assert table == (("証明書", _Dictionary.table["証明書"]), ("監査", _Dictionary.table["監査"]))


def _bilingual_rag(tmp_path: Path, dictionary: str = "jmdict") -> RAG:
    from ingest.pipeline import Ingestor
    from ingest.settings import IndexSettings
    from rag_app.config import AnswerSettings, RAGConfig

    root = tmp_path / "docs"
    root.mkdir(exist_ok=True)
    (root / "offices.md").write_text("# Offices\n\nThe Osaka office is at 4-5-6 Umeda, Kita-ku. It opens at 9:00.\n",
                                     encoding="utf-8")
    (root / "backup_ja.md").write_text("# バックアップ\n\n監査ログは追記専用ストレージに7年間保存する。\n", encoding="utf-8")
    settings = IndexSettings(index_dir=tmp_path / "idx", embedder="hashing")
    if not settings.index_dir.exists():
        assert Ingestor(settings).run([root]).files_failed == []
    return RAG(RAGConfig(index=settings, answer=AnswerSettings(generator="extractive", refusal_threshold=0.0,
                                                               dictionary=dictionary)))


def test_a_question_answered_in_the_other_language_is_not_refused(tmp_path: Path) -> None:
    """An English question whose answer is in a Japanese document: with the dictionary the gate
    finds "audit" and "log" in it and the extractive answer quotes it; without, the English
    chunk alone is checked and the question is refused as never mentioned."""
    rag = _bilingual_rag(tmp_path)
    off = _bilingual_rag(tmp_path, dictionary="off")
    try:
        got = rag.ask("How long are audit logs retained?")
        assert not got.refused and "7年間" in got.text and got.citations[0].source == "backup_ja.md"
        refused = off.ask("How long are audit logs retained?")
        assert refused.refused and (refused.refusal_reason or "").startswith("unsupported_terms:")
        nagoya = rag.ask("Who is the fire safety manager of the Nagoya office?")
        assert nagoya.refused and "nagoya" in (nagoya.refusal_reason or "")
    finally:
        rag.close()
        off.close()
