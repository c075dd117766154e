"""What a run's answers depend on and where they were made: model and adapter hashes, the index
manifest, the git commit and the machine. Hashes of big files are cached by (path, size, mtime)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import threading
from importlib import metadata as _md
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()
_VERSIONS = ("ragas", "matplotlib", "numpy", "llama-cpp-python", "transformers", "torch", "peft", "openai",
             "anthropic")


class HashCache:
    """sha256 of files and folders, remembered in a JSON file keyed by path, size and mtime."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, dict[str, Any]] | None = None

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._data is None:
            try:
                self._data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._data = {}
        return self._data

    def file(self, path: Path) -> str:
        st = path.stat()
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
        with _LOCK:
            data = self._load()
            rec = data.get(str(path.resolve()))
            if rec and rec.get("stamp") == stamp:
                return str(rec["sha256"])
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        with _LOCK:
            data[str(path.resolve())] = {"stamp": stamp, "sha256": h.hexdigest()}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(data, indent=1), encoding="utf-8")
        return h.hexdigest()

    def tree(self, folder: Path) -> str:
        """sha256 over (relative path, file sha256) of every file under ``folder``, sorted."""
        h = hashlib.sha256()
        for p in sorted(q for q in folder.rglob("*") if q.is_file()):
            h.update(f"{p.relative_to(folder)}\0{self.file(p)}\n".encode())
        return h.hexdigest()

    def path_hash(self, path: Path) -> str | None:
        if path.is_file():
            return self.file(path)
        return self.tree(path) if path.is_dir() else None


def model_identity(generator: str, hashes: HashCache) -> dict[str, Any]:
    """The generator spec plus the sha256 of what it loads: a catalogue model's published hash, a
    model file's or folder's hash, an adapter folder's hash. API models: the model name alone."""
    from rag_app.generators.registry import parse_spec
    from rag_app.models import get_spec

    p = parse_spec(generator)
    out: dict[str, Any] = {"generator": generator, "kind": p.kind}
    if p.kind == "local":
        out.update(model=p.model, model_sha256=get_spec(p.model).sha256)
    elif p.kind in ("llama-cpp", "hf"):
        out.update(model=p.path, model_sha256=hashes.path_hash(Path(p.path)))
    elif p.kind != "extractive":
        out.update(model=p.model, base_url=p.base_url or None)
    if p.adapter:
        out.update(adapter=p.adapter, adapter_sha256=hashes.path_hash(Path(p.adapter)))
    return out


def git_sha(repo: Path | None = None) -> str | None:
    """The commit of the working tree (``+dirty`` when it has changes); None outside git."""
    where = str(repo or Path(__file__).resolve().parents[1])
    try:
        sha = subprocess.run(["git", "-C", where, "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    versions = {}
    for name in _VERSIONS:
        try:
            versions[name] = _md.version(name)
        except _md.PackageNotFoundError:
            continue
    try:
        ram_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        ram_gb = None
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": _cpu(),
            "cores": os.cpu_count(), "ram_gb": ram_gb, "loadavg": list(os.getloadavg()), "versions": versions}
