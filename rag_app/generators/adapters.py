"""LoRA adapter manifests: which base model an adapter was trained on, checked before loading.

An adapter directory holds peft's ``adapter_config.json`` and ragqa's ``ragqa_adapter.json``::

    {"format_version": 1, "base_model_id": "smollm2-135m-instruct", "base_model_sha256": "<64 hex>"}

``base_model_sha256`` is the sha256 of the base GGUF file (null for a base given as a directory).
Loading an adapter onto another base gives fluent nonsense, so a mismatch is refused.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag_app.generators.errors import AdapterMismatchError

MANIFEST = "ragqa_adapter.json"
PEFT_CONFIG = "adapter_config.json"
GGUF_LORA_FILE = "adapter-lora.gguf"  # the same adapter for llama.cpp (rag_app.finetune.gguf_lora)
FORMAT_VERSION = 1
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AdapterManifest:
    base_model_id: str
    base_model_sha256: str | None
    format_version: int = FORMAT_VERSION
    template_version: str | None = None  # the prompt template its training data was built with


def write_manifest(adapter_dir: Path, base_model_id: str, base_model_sha256: str | None) -> Path:
    """Write ``ragqa_adapter.json`` next to a saved peft adapter (call after ``save_pretrained``),
    and set peft's ``base_model_name_or_path`` to the same id (peft records a local path there)."""
    peft_path = Path(adapter_dir) / PEFT_CONFIG
    if peft_path.is_file():
        cfg = _read_json(peft_path)
        cfg["base_model_name_or_path"] = base_model_id
        peft_path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    path = Path(adapter_dir) / MANIFEST
    path.write_text(json.dumps({"format_version": FORMAT_VERSION, "base_model_id": base_model_id,
                                "base_model_sha256": base_model_sha256}, indent=2) + "\n", encoding="utf-8")
    return path


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AdapterMismatchError(f"{path} is missing") from None
    except ValueError as exc:
        raise AdapterMismatchError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AdapterMismatchError(f"{path} holds {type(data).__name__}, expected a JSON object")
    return data


def read_manifest(adapter_dir: Path) -> AdapterManifest:
    """The manifest, checked against peft's own record of the base model."""
    adapter_dir = Path(adapter_dir)
    if not adapter_dir.is_dir():
        raise AdapterMismatchError(f"adapter directory {adapter_dir} does not exist")
    peft_cfg = _read_json(adapter_dir / PEFT_CONFIG)
    try:
        data = _read_json(adapter_dir / MANIFEST)
    except AdapterMismatchError as exc:
        raise AdapterMismatchError(
            f"{exc}: ragqa loads only adapters that name their base model; write it with "
            f"rag_app.generators.adapters.write_manifest(adapter_dir, base_model_id, base_model_sha256)"
        ) from None
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise AdapterMismatchError(f"{adapter_dir / MANIFEST}: format_version is {version!r}; "
                                   f"this ragqa reads version {FORMAT_VERSION}")
    base_id = data.get("base_model_id")
    sha = data.get("base_model_sha256")
    if not isinstance(base_id, str) or not base_id:
        raise AdapterMismatchError(f"{adapter_dir / MANIFEST}: base_model_id is missing or empty")
    if sha is not None and not (isinstance(sha, str) and len(sha) == 64):
        raise AdapterMismatchError(f"{adapter_dir / MANIFEST}: base_model_sha256 must be 64 hex digits or null")
    peft_base = peft_cfg.get("base_model_name_or_path")
    if peft_base and peft_base != base_id:
        raise AdapterMismatchError(
            f"{adapter_dir}: adapter_config.json says base_model_name_or_path={peft_base!r} but "
            f"{MANIFEST} says base_model_id={base_id!r}; the adapter directory is inconsistent")
    template = data.get("template_version")
    _warn_on_template(adapter_dir, template)
    return AdapterManifest(base_model_id=base_id, base_model_sha256=sha, format_version=version,
                           template_version=template if isinstance(template, str) else None)


def _warn_on_template(adapter_dir: Path, template: Any) -> None:
    """An adapter trained on another prompt template still loads (it is not nonsense), but it is
    served text it never saw: say so, naming both versions and the fix."""
    from rag_app.prompting import CLOSED_BOOK_TEMPLATE_VERSION, PROMPT_TEMPLATE_VERSION

    if template is not None and template not in (PROMPT_TEMPLATE_VERSION, CLOSED_BOOK_TEMPLATE_VERSION):
        log.warning("adapter %s was trained on prompt template %r; this ragqa serves %r: rebuild its data "
                    "with `ragqa finetune data` and train it again for the answers it was measured on",
                    adapter_dir, template, PROMPT_TEMPLATE_VERSION)


def check_compatible(adapter_dir: Path, base_model_id: str, base_model_sha256: str | None) -> AdapterManifest:
    """Refuse (``AdapterMismatchError``) unless the adapter was trained on this exact base."""
    manifest = read_manifest(adapter_dir)
    if manifest.base_model_id != base_model_id:
        raise AdapterMismatchError(
            f"adapter {adapter_dir} was trained on base model {manifest.base_model_id!r}, but the loaded "
            f"base is {base_model_id!r}: load it with that base model, or train an adapter for this one")
    if (manifest.base_model_sha256 and base_model_sha256
            and manifest.base_model_sha256 != base_model_sha256):
        raise AdapterMismatchError(
            f"adapter {adapter_dir} was trained on a {base_model_id!r} file with sha256 "
            f"{manifest.base_model_sha256}, but the loaded file has sha256 {base_model_sha256}: "
            f"use the same base file the adapter was trained on")
    return manifest
