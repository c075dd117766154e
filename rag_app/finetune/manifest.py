"""The adapter manifest ``ragqa_adapter.json`` of a trained adapter: the serving check's fields
(``rag_app.generators.adapters``: format version, base model id and sha256, refused on another
base) plus what the training recorded: method, prompt template version, the data card's sha256,
hyperparameters, metrics and library versions."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from rag_app.generators.adapters import MANIFEST, read_manifest, write_manifest
from rag_app.prompting import PROMPT_TEMPLATE_VERSION

_LIBRARIES = ("torch", "transformers", "trl", "peft", "bitsandbytes")


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def write_training_manifest(adapter_dir: Path, *, base_model_id: str, base_model_sha256: str | None,
                            method: str, data_card_sha256: str, hyperparameters: Mapping[str, Any],
                            metrics: Mapping[str, Any], interrupted: bool = False) -> Path:
    """``write_manifest`` (the fields serving checks) + the training record; re-read and checked."""
    path = write_manifest(adapter_dir, base_model_id, base_model_sha256)
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update({
        "method": method,
        "template_version": PROMPT_TEMPLATE_VERSION,
        "data_card_sha256": data_card_sha256,
        "hyperparameters": dict(hyperparameters),
        "metrics": dict(metrics),
        "interrupted": interrupted,
        "libraries": library_versions(),
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    })
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    read_manifest(adapter_dir)  # what serving will read must pass its own check
    return path


def training_record(adapter_dir: Path) -> dict[str, Any]:
    """The whole manifest as a dict (``read_manifest`` checks the serving fields first)."""
    read_manifest(adapter_dir)
    data: dict[str, Any] = json.loads((Path(adapter_dir) / MANIFEST).read_text(encoding="utf-8"))
    return data
