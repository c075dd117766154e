"""System specs: parsing, options, and the checks that run before any answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.systems import SystemSpecError, parse_system, parse_systems, resolve, split_systems


def test_forms_and_options() -> None:
    ex = parse_system("extractive")
    assert (ex.family, ex.uses_retrieval, ex.label) == ("extractive", True, "extractive")
    rag = parse_system("rag:smollm2[top_k=3,mode=bm25]")
    assert rag.retrieval.mode == "bm25" and rag.retrieval.top_k == 3
    assert rag.label == "rag:smollm2[mode=bm25,top_k=3]" and rag.retrieval.answer_overrides() == {"mode": "bm25", "top_k": 3}
    cb = parse_system("closed-book:hf:/m/model.gguf#adapter=/a")
    assert cb.target == "hf:/m/model.gguf#adapter=/a" and not cb.uses_retrieval
    ft = parse_system("ft:/adapters/kb[base=/m/base.gguf,name=FT]")
    assert (ft.adapter, ft.base, ft.label, ft.uses_retrieval) == ("/adapters/kb", "/m/base.gguf", "FT", False)
    assert parse_system("rag+ft:/adapters/raft").uses_retrieval
    assert parse_system("rag:openai-compatible:m@http://127.0.0.1:8080/v1").target == "openai-compatible:m@http://127.0.0.1:8080/v1"
    assert parse_system("rag:a/b").slug != parse_system("rag:a_b").slug


def test_split_keeps_commas_inside_brackets() -> None:
    assert split_systems("extractive, rag:smollm2[mode=bm25,top_k=3],closed-book:smollm2") == [
        "extractive", "rag:smollm2[mode=bm25,top_k=3]", "closed-book:smollm2"]


@pytest.mark.parametrize(("text", "why"), [
    ("bogus", "unknown system 'bogus'"),
    ("rag:", "nothing after 'rag:'"),
    ("rag:smollm2[colour=red]", "unknown option 'colour'"),
    ("rag:smollm2[top_k=0]", "top_k='0' must be a whole number >= 1"),
    ("rag:smollm2[mode=fuzzy]", "mode='fuzzy' is unknown; allowed: dense, bm25, hybrid"),
    ("closed-book:smollm2[top_k=3]", "closed-book systems do not retrieve"),
    ("closed-book:extractive", "the extractive generator only quotes retrieved passages"),
    ("rag:smollm2[base=/x]", "base= applies only to ft:ADAPTER and rag+ft:ADAPTER"),
    ("rag:smollm2[top_k", "unbalanced or misplaced brackets"),
])
def test_bad_specs_name_the_value_and_the_allowed_forms(text: str, why: str) -> None:
    with pytest.raises(SystemSpecError, match="allowed forms: extractive, rag:GEN, closed-book:GEN") as info:
        parse_system(text)
    assert why in str(info.value) and repr(text) in str(info.value)


def test_duplicate_labels_are_refused() -> None:
    with pytest.raises(SystemSpecError, match=r"systems \['extractive'\] are listed twice; give each a different name"):
        parse_systems("extractive,extractive")


def test_resolve_checks_adapters_models_and_generators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemSpecError, match=r"ft:/no/such: adapter directory /no/such does not exist; give the folder"):
        resolve(parse_system("ft:/no/such"))
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(SystemSpecError, match=r"ragqa_adapter\.json is missing"):
        resolve(parse_system(f"ft:{tmp_path}"))
    with pytest.raises(SystemSpecError, match="rag:nope: bad generator spec 'nope'"):
        resolve(parse_system("rag:nope"))
    with pytest.raises(SystemSpecError, match=r"model file /no/model\.gguf does not exist"):
        resolve(parse_system("rag:llama-cpp:/no/model.gguf"))
    import rag_app.models

    monkeypatch.setattr(rag_app.models, "is_installed", lambda name, directory=None: False)
    with pytest.raises(SystemSpecError, match=r"model smollm2 is not installed: run `ragqa models install smollm2`"):
        resolve(parse_system("closed-book:smollm2"))
    assert resolve(parse_system("extractive")).generator == "extractive"


def test_adapter_base_comes_from_its_manifest(tmp_path: Path) -> None:
    from rag_app.generators.adapters import write_manifest
    from rag_app.models import ModelNotInstalledError, model_path

    (tmp_path / "adapter_config.json").write_text("{}")
    write_manifest(tmp_path, "smollm2-135m-instruct", None)
    try:
        gguf = model_path("smollm2")
    except ModelNotInstalledError as e:
        pytest.skip(str(e))
    assert resolve(parse_system(f"rag+ft:{tmp_path}")).generator == f"hf:{gguf}#adapter={tmp_path}"
    write_manifest(tmp_path, "my-own-base", None)
    with pytest.raises(SystemSpecError, match="base model 'my-own-base' is not in ragqa's catalogue; give its file"):
        resolve(parse_system(f"ft:{tmp_path}"))
    assert resolve(parse_system(f"ft:{tmp_path}[base={gguf}]")).generator == f"hf:{gguf}#adapter={tmp_path}"
