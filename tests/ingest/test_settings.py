"""IndexSettings: defaults < ragqa.toml [index] < RAGQA_* environment < explicit arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.settings import CONFIG_FILE_ENV, IndexSettings, load_index_settings, read_config_file

ENV_VARS = ("RAGQA_INDEX", "RAGQA_EMBEDDER", "RAGQA_CHROMA_URL", "RAGQA_COLLECTION", "RAGQA_CHUNK_TOKENS",
            "RAGQA_CHUNK_OVERLAP", CONFIG_FILE_ENV)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ragqa variable from the caller's shell and no ragqa.toml in the working directory."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def write_toml(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    assert load_index_settings() == IndexSettings()
    s = IndexSettings()
    assert (s.index_dir, s.embedder, s.chunk_tokens, s.chunk_overlap, s.collection) == (
        Path(".ragqa"), "e5", 256, 32, "ragqa")
    assert s.chroma_url is None and s.analyzer == "default" and s.embed_batch == 32


def test_the_file_overrides_defaults_the_environment_overrides_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_toml(tmp_path / "ragqa.toml", '[index]\nembedder = "hashing"\nchunk_tokens = 128\ncollection = "from-file"\n'
                                        'index_dir = "~/idx"\n')
    s = load_index_settings()
    assert (s.embedder, s.chunk_tokens, s.collection) == ("hashing", 128, "from-file")
    assert s.index_dir == Path("~/idx").expanduser()
    monkeypatch.setenv("RAGQA_EMBEDDER", "minilm")
    monkeypatch.setenv("RAGQA_CHUNK_TOKENS", "200")
    monkeypatch.setenv("RAGQA_CHROMA_URL", "http://127.0.0.1:9000")
    s = load_index_settings()
    assert (s.embedder, s.chunk_tokens, s.collection, s.chroma_url) == (
        "minilm", 200, "from-file", "http://127.0.0.1:9000")
    s = load_index_settings(embedder="e5", chunk_tokens=None, index_dir="other")  # None: not given
    assert (s.embedder, s.chunk_tokens, s.index_dir) == ("e5", 200, Path("other"))


def test_config_file_from_the_environment_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = write_toml(tmp_path / "elsewhere.toml", '[index]\ncollection = "via-env"\n')
    monkeypatch.setenv(CONFIG_FILE_ENV, str(cfg))
    assert load_index_settings().collection == "via-env"
    assert read_config_file() == {"index": {"collection": "via-env"}}


def test_empty_environment_value_clears_an_optional_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_toml(tmp_path / "ragqa.toml", '[index]\nchroma_url = "http://127.0.0.1:8000"\n')
    monkeypatch.setenv("RAGQA_CHROMA_URL", "")
    assert load_index_settings().chroma_url is None


def test_an_explicit_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"^config file not found: .*missing\.toml$"):
        load_index_settings(tmp_path / "missing.toml")
    assert read_config_file() == {}  # the default file is optional


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    bad = write_toml(tmp_path / "bad.toml", "[index\nembedder = ")
    with pytest.raises(ValueError, match=r"^invalid TOML in .*bad\.toml: "):
        load_index_settings(bad)


def test_unknown_setting_lists_the_allowed_ones(tmp_path: Path) -> None:
    cfg = write_toml(tmp_path / "ragqa.toml", '[index]\nembeder = "e5"\n')
    with pytest.raises(ValueError, match=r"^unknown \[index\] settings \['embeder'\] in ragqa.toml; allowed: "
                                         r"\['analyzer', 'chroma_url', .*'embedder', .*\]$"):
        load_index_settings(cfg)


@pytest.mark.parametrize("source", ["file", "env", "argument"])
def test_a_non_integer_count_is_refused_with_its_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: str
) -> None:
    if source == "file":
        write_toml(tmp_path / "ragqa.toml", '[index]\nchunk_tokens = "many"\n')
    elif source == "env":
        monkeypatch.setenv("RAGQA_CHUNK_TOKENS", "many")
    with pytest.raises(ValueError, match=r"^setting chunk_tokens must be an integer, got 'many'$"):
        load_index_settings(chunk_tokens="many") if source == "argument" else load_index_settings()


def test_overlap_must_be_smaller_than_the_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGQA_CHUNK_OVERLAP", "64")
    with pytest.raises(ValueError, match=r"^chunk_overlap \(64\) must be smaller than chunk_tokens \(64\)$"):
        load_index_settings(chunk_tokens=64)


def test_with_overrides_ignores_none() -> None:
    s = IndexSettings(embedder="hashing")
    assert s.with_overrides(embedder=None, collection="c2") == IndexSettings(embedder="hashing", collection="c2")
