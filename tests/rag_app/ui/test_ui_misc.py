from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rag_app import RAG
from rag_app.ui.config import UIConfig
from rag_app.ui.engines import EngineKey, Engines
from rag_app.ui.reports import find_reports
from rag_app.ui.settings import generator_spec, key_notice, make_filters, split_spec


def test_generator_specs_and_key_notices_never_show_a_key() -> None:
    assert generator_spec("extractive") == "extractive"
    assert generator_spec("openai-compatible", "m@http://127.0.0.1:8080/v1") == "openai-compatible:m@http://127.0.0.1:8080/v1"
    with pytest.raises(ValueError, match="anthropic needs its model name"):
        generator_spec("anthropic", "")
    with pytest.raises(ValueError, match="expected <model>@http"):
        generator_spec("openai-compatible", "no-url")
    assert split_spec("hf:/m.gguf#adapter=/a") == ("hf", "/m.gguf#adapter=/a", "")


def test_a_bundled_model_with_a_tuned_adapter_is_a_page_setting() -> None:
    spec = generator_spec("smollm2", "", "/ft-adapter")
    assert spec == "smollm2#adapter=/ft-adapter" and split_spec(spec) == ("smollm2", "", "/ft-adapter")
    spec = generator_spec("llama-cpp", "/m.gguf", "/a")
    assert spec == "llama-cpp:/m.gguf#adapter=/a" and split_spec(spec) == ("llama-cpp", "/m.gguf", "/a")
    for spec in ("extractive", "openai-compatible:m@http://127.0.0.1:8080/v1", "anthropic:claude-haiku-4-5"):
        assert generator_spec(*split_spec(spec)) == spec  # the configured generator is the widgets' default
    with pytest.raises(ValueError, match="extractive takes no adapter folder; a tuned adapter attaches to smollm2"):
        generator_spec("extractive", "", "/a")
    assert split_spec("smollm2#temperature=0") == ("auto", "", "")  # not a spec the widgets can show
    notice = key_notice("openai", {"OPENAI_API_KEY": "sk-very-secret"})
    assert notice is not None and "is set" in notice and "sk-very-secret" not in notice
    assert "not set" in (key_notice("anthropic", {}) or "") and key_notice("extractive", {}) is None


def test_filters_from_widgets() -> None:
    assert make_filters(None, [], [], None, None) is None
    f = make_filters("hr", ["pdf"], ["ja"], dt.date(2026, 1, 1), None)
    assert f is not None and (f.source_prefix, f.file_types, f.langs, f.date_from) == ("hr", ("pdf",), ("ja",), "2026-01-01")


def test_config_paths_default_into_the_index_and_bad_limits_are_named(tmp_path: Path) -> None:
    cfg = UIConfig.for_index(tmp_path, {})
    assert cfg.users_file == tmp_path / "users.jsonl" and cfg.uploads_dir == tmp_path / "uploads"
    assert UIConfig.for_index(tmp_path, {"RAGQA_USERS": "/x/u.jsonl"}).users_file == Path("/x/u.jsonl")
    with pytest.raises(ValueError, match="RAGQA_UI_MAX_UPLOAD_MB='big' is not a positive whole number"):
        UIConfig.for_index(tmp_path, {"RAGQA_UI_MAX_UPLOAD_MB": "big"})


def test_reports_are_found_newest_first_and_missing_roots_skipped(tmp_path: Path) -> None:
    (tmp_path / "r" / "run1").mkdir(parents=True)
    (tmp_path / "r" / "run1" / "report.md").write_text("# Run 1", encoding="utf-8")
    (tmp_path / "r" / "run1" / "scores.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (reps,) = [find_reports([tmp_path / "r", tmp_path / "missing"])]
    assert [r.name for r in reps] == ["r/run1"]
    assert [f.kind for f in reps[0].files] == ["markdown", "table"]


def test_engines_share_one_index_and_one_generator_per_spec(ui_index: tuple[Path, Path]) -> None:
    _, index = ui_index
    engines = Engines(RAG.from_config(index_dir=index, embedder="hashing", generator="extractive"))
    a = engines.get(EngineKey("extractive", "hybrid", 3))
    b = engines.get(EngineKey("extractive", "bm25", 5))
    assert engines.get(EngineKey("extractive", "hybrid", 3)) is a
    assert a.generator is b.generator and a.reader is b.reader
    assert (a.config.answer.top_k, b.config.answer.mode) == (3, "bm25")
