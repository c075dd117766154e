"""The Japanese-English dictionary (retrieval/dictionary.py): JMdict's glosses through jamdict,
what is not looked up, the cache, threads, and the settings' names."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from retrieval.dictionary import INSTALL_HINT, JMdict, TermDictionary, load_dictionary


def test_glosses_of_japanese_words_most_common_sense_first() -> None:
    d = JMdict()
    assert isinstance(d, TermDictionary) and d.languages == ("ja", "en")
    assert d.glosses("監査")[:2] == ("inspection", "audit")
    assert "sick leave" in d.glosses("病気休暇")
    assert d.glosses("新幹線")[0] == "Shinkansen"
    assert any("parking" in g for g in d.glosses("駐車場"))


def test_unknown_ascii_and_single_character_words_have_no_glosses() -> None:
    d = JMdict()
    assert d.glosses("ラクダモドキ株式会社") == ()  # not a dictionary word
    assert d.glosses("audit") == () and d.glosses("") == ()
    assert d.glosses("火") == ()  # a compound's part (火曜日) more often than "fire": not looked up
    assert JMdict(min_chars=1).glosses("火")[0] == "fire"


def test_senses_beyond_the_limit_are_left_out() -> None:
    assert len(JMdict(max_senses=1).glosses("病気")) < len(JMdict(max_senses=3).glosses("病気"))
    assert "perversion" not in JMdict(max_senses=1).glosses("病気")


def test_lookups_are_cached_and_the_cache_is_bounded() -> None:
    d = JMdict(cache_size=2)
    first = d.glosses("休暇")
    assert d.glosses("休暇") is first  # served from the cache
    d.glosses("監査")
    d.glosses("保存")
    assert list(d._cache) == ["監査", "保存"]


def test_one_dictionary_shared_by_threads() -> None:
    d = JMdict()
    words = ["休暇", "監査", "保存", "証明書", "退職", "定年", "賞与", "消防"] * 8
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(d.glosses, words))
    assert got == [JMdict().glosses(w) for w in words]


def test_the_setting_names_a_dictionary_or_off() -> None:
    assert isinstance(load_dictionary("jmdict"), JMdict) and isinstance(load_dictionary(" JMdict "), JMdict)
    assert load_dictionary("off") is None and load_dictionary("") is None
    with pytest.raises(ValueError, match="allowed: jmdict or off"):
        load_dictionary("edict")


def test_without_jamdict_the_error_gives_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jamdict", None)
    with pytest.raises(ImportError, match="pip install") as e:
        JMdict().glosses("休暇")
    assert INSTALL_HINT in str(e.value) and 'dictionary = "off"' in str(e.value)
