"""Adapter manifests: an adapter loads only onto the base model it was trained on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag_app.generators.adapters import (
    AdapterManifest,
    check_compatible,
    read_manifest,
    write_manifest,
)
from rag_app.generators.errors import AdapterMismatchError

SHA = "a" * 64


def _adapter(tmp_path: Path, peft_base: str = "/some/local/dir") -> Path:
    d = tmp_path / "adapter"
    d.mkdir()
    (d / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8,
                                                      "base_model_name_or_path": peft_base}))
    return d


def test_write_then_check_round_trip_and_aligns_peft_config(tmp_path: Path) -> None:
    d = _adapter(tmp_path)
    write_manifest(d, "smollm2-135m-instruct", SHA)
    assert json.loads((d / "adapter_config.json").read_text())["base_model_name_or_path"] == "smollm2-135m-instruct"
    assert json.loads((d / "adapter_config.json").read_text())["r"] == 8
    assert check_compatible(d, "smollm2-135m-instruct", SHA) == AdapterManifest("smollm2-135m-instruct", SHA)


def test_other_base_id_is_refused_naming_both(tmp_path: Path) -> None:
    d = _adapter(tmp_path)
    write_manifest(d, "qwen2.5-coder-1.5b-instruct", "b" * 64)
    with pytest.raises(AdapterMismatchError) as info:
        check_compatible(d, "smollm2-135m-instruct", SHA)
    msg = str(info.value)
    assert "trained on base model 'qwen2.5-coder-1.5b-instruct'" in msg
    assert "the loaded base is 'smollm2-135m-instruct'" in msg


def test_same_id_other_file_is_refused(tmp_path: Path) -> None:
    d = _adapter(tmp_path)
    write_manifest(d, "smollm2-135m-instruct", "c" * 64)
    with pytest.raises(AdapterMismatchError, match=f"sha256 {'c' * 64}, but the loaded file has sha256 {SHA}"):
        check_compatible(d, "smollm2-135m-instruct", SHA)


def test_peft_config_disagreeing_with_manifest_is_refused(tmp_path: Path) -> None:
    d = _adapter(tmp_path)
    write_manifest(d, "smollm2-135m-instruct", SHA)
    cfg = json.loads((d / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = "HuggingFaceTB/SmolLM2-360M-Instruct"
    (d / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(AdapterMismatchError, match="base_model_name_or_path='HuggingFaceTB/SmolLM2-360M-Instruct'"):
        read_manifest(d)


def test_missing_manifest_says_how_to_write_one(tmp_path: Path) -> None:
    d = _adapter(tmp_path)
    with pytest.raises(AdapterMismatchError, match=r"ragqa_adapter\.json is missing: .*write_manifest"):
        check_compatible(d, "smollm2-135m-instruct", SHA)


def test_bad_manifest_fields(tmp_path: Path) -> None:
    d = _adapter(tmp_path)
    (d / "ragqa_adapter.json").write_text(json.dumps({"format_version": 2, "base_model_id": "x"}))
    with pytest.raises(AdapterMismatchError, match="format_version is 2; this ragqa reads version 1"):
        read_manifest(d)
    (d / "ragqa_adapter.json").write_text("{not json")
    with pytest.raises(AdapterMismatchError, match="is not valid JSON"):
        read_manifest(d)
    with pytest.raises(AdapterMismatchError, match="does not exist"):
        read_manifest(tmp_path / "nope")


def test_the_template_an_adapter_was_trained_on_is_read_and_a_stale_one_is_named(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from rag_app.prompting import PROMPT_TEMPLATE_VERSION

    d = _adapter(tmp_path)
    write_manifest(d, "smollm2-135m-instruct", SHA)
    manifest = json.loads((d / "ragqa_adapter.json").read_text())
    (d / "ragqa_adapter.json").write_text(json.dumps({**manifest, "template_version": PROMPT_TEMPLATE_VERSION}))
    assert read_manifest(d).template_version == PROMPT_TEMPLATE_VERSION and not caplog.records
    (d / "ragqa_adapter.json").write_text(json.dumps({**manifest, "template_version": "ragqa-prompt-0"}))
    with caplog.at_level("WARNING"):
        assert read_manifest(d).template_version == "ragqa-prompt-0"  # still loads
    assert "trained on prompt template 'ragqa-prompt-0'" in caplog.text and PROMPT_TEMPLATE_VERSION in caplog.text
