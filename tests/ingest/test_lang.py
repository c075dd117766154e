from __future__ import annotations

import pytest

from ingest.lang import LANGS, detect_lang


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Employees may work remotely up to three days per week.", "en"),
        ("従業員は週に三日まで在宅勤務を行うことができます。", "ja"),
        ("カスタマーサポート", "ja"),  # katakana only
        ("人事規程", "ja"),  # kanji only, no Chinese-only characters
        ("経費精算の締め日は毎月25日です。Submit receipts via the portal.", "ja"),
        ("FastAPI で API を作成する方法", "ja"),  # Japanese with Latin terms
        ("这是我们公司的远程办公政策，员工每周可以在家工作三天。", "zh"),
        ("這是我們公司的遠程辦公政策，員工說明如下。", "zh"),
        ("직원은 주 3일까지 재택근무를 할 수 있습니다.", "ko"),
        ("Сотрудники могут работать удалённо.", "other"),
        ("The Tokyo office (東京) opens at 9:00.", "en"),  # a little kanji in English
    ],
)
def test_detect_lang(text: str, lang: str) -> None:
    assert detect_lang(text) == lang
    assert lang in LANGS


def test_no_letters_returns_the_default() -> None:
    assert detect_lang("2024-04-01 | 12,000 | 3.5%") == "en"
    assert detect_lang("", default="ja") == "ja"
    assert detect_lang("😀 👍") == "en"


def test_full_width_latin_counts_as_latin() -> None:
    assert detect_lang("ＡＢＣ Ｃｏｍｐａｎｙ") == "en"
