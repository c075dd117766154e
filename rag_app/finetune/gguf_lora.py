"""A peft LoRA adapter -> a GGUF LoRA file that llama.cpp applies to the quantised base at load
time (``Llama(model_path, lora_path=...)``): the fast serving path for a tuned local model.

Layout (what llama.cpp's own converter writes): ``general.architecture`` = the base's,
``general.type = "adapter"``, ``adapter.type = "lora"``, ``adapter.lora.alpha``; per adapted
weight ``<gguf name>.lora_a`` (numpy shape [r, in]) and ``.lora_b`` ([out, r]), so the update is
``scale * B @ A`` with llama.cpp's ``scale = alpha / r``. llama-architecture GGUFs store q/k with
their rows permuted for llama.cpp's rotary layout; the transformers loader undoes that, so a LoRA
trained on the loaded model has its ``lora_b`` rows permuted the same way here (A is untouched:
the permutation acts on output rows). Qwen2 stores q/k unpermuted.

Needs only ``gguf`` and ``safetensors`` (numpy), no torch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rag_app.generators.adapters import GGUF_LORA_FILE, PEFT_CONFIG

PEFT_WEIGHTS = "adapter_model.safetensors"
PERMUTED_QK = ("llama",)  # architectures whose GGUF q/k rows are permuted for rotary embeddings
INSTALL_HINT = "pip install gguf safetensors"


def _need(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(f"converting an adapter to GGUF needs {name}: {INSTALL_HINT}") from exc


def permute_rows(w: npt.NDArray[Any], n_head: int, n_head_kv: int | None = None) -> npt.NDArray[Any]:
    """llama.cpp's q/k row order: within each head, the two rotary halves interleaved.
    ``w``: [n_head * head_dim, ...]; for k, ``n_head_kv`` heads."""
    heads = n_head_kv if n_head_kv and n_head_kv != n_head else n_head
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _field(reader: Any, key: str) -> Any:
    try:
        return reader.fields[key].contents()
    except KeyError:
        raise ValueError(f"the base GGUF has no {key!r}: is it a model file (not an adapter)?") from None


def base_layout(base_gguf: Path) -> dict[str, Any]:
    """Architecture, block count and head counts of a base GGUF file."""
    gguf = _need("gguf")
    reader = gguf.GGUFReader(str(base_gguf))
    arch = str(_field(reader, "general.architecture"))
    return {"arch": arch, "n_blocks": int(_field(reader, f"{arch}.block_count")),
            "n_head": int(_field(reader, f"{arch}.attention.head_count")),
            "n_head_kv": int(_field(reader, f"{arch}.attention.head_count_kv"))}


def _pairs(tensors: dict[str, npt.NDArray[Any]]) -> dict[str, dict[str, npt.NDArray[Any]]]:
    """HF weight name (``model.layers.0.self_attn.q_proj.weight``) -> {"A": [r, in], "B": [out, r]}."""
    out: dict[str, dict[str, npt.NDArray[Any]]] = {}
    for name, t in tensors.items():
        for part in ("A", "B"):
            tag = f".lora_{part}.weight"
            if name.endswith(tag):
                hf = name.removeprefix("base_model.model.").removesuffix(tag) + ".weight"
                out.setdefault(hf, {})[part] = t
                break
        else:
            raise ValueError(f"adapter tensor {name!r} is not a LoRA A/B matrix (modules_to_save or embeddings "
                             "are not supported by GGUF LoRA): train without them")
    return out


def effective_alpha(cfg: dict[str, Any]) -> float:
    """The alpha that gives llama.cpp's ``alpha / r`` the scale peft used (rsLoRA: alpha / sqrt(r))."""
    if cfg.get("use_dora"):
        raise ValueError("DoRA adapters cannot be converted to GGUF LoRA: train with use_dora=False")
    r, alpha = int(cfg["r"]), float(cfg["lora_alpha"])
    return alpha * math.sqrt(r) if cfg.get("use_rslora") else alpha


def convert_adapter(adapter_dir: Path, base_gguf: Path, out: Path | None = None, dtype: str = "f16") -> Path:
    """Write ``adapter_dir/adapter-lora.gguf`` (or ``out``) for ``base_gguf``; ``dtype``: f16 | f32."""
    gguf, st = _need("gguf"), _need("safetensors.numpy")
    adapter_dir = Path(adapter_dir)
    if dtype not in ("f16", "f32"):
        raise ValueError(f"dtype={dtype!r}; allowed: f16, f32")
    cfg = json.loads((adapter_dir / PEFT_CONFIG).read_text(encoding="utf-8"))
    if cfg.get("peft_type", "LORA") != "LORA":
        raise ValueError(f"{adapter_dir} holds a {cfg.get('peft_type')} adapter; only LoRA converts to GGUF")
    layout = base_layout(base_gguf)
    arch_id = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}.get(layout["arch"])
    if arch_id is None:
        raise ValueError(f"architecture {layout['arch']!r} is unknown to this gguf package; upgrade gguf")
    names = gguf.get_tensor_name_map(arch_id, layout["n_blocks"])
    np_dtype = np.float16 if dtype == "f16" else np.float32
    out = Path(out) if out is not None else adapter_dir / GGUF_LORA_FILE
    writer = gguf.GGUFWriter(str(out), layout["arch"])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, effective_alpha(cfg))
    for hf_name, ab in sorted(_pairs(st.load_file(str(adapter_dir / PEFT_WEIGHTS))).items()):
        target = names.get_name(hf_name, try_suffixes=(".weight",))
        if target is None or set(ab) != {"A", "B"}:
            raise ValueError(f"cannot map adapter weight {hf_name!r} to a {layout['arch']} GGUF tensor")
        a, b = ab["A"].astype(np.float32), ab["B"].astype(np.float32)
        if layout["arch"] in PERMUTED_QK and hf_name.endswith("q_proj.weight"):
            b = permute_rows(b, layout["n_head"])
        elif layout["arch"] in PERMUTED_QK and hf_name.endswith("k_proj.weight"):
            b = permute_rows(b, layout["n_head"], layout["n_head_kv"])
        writer.add_tensor(f"{target}.lora_a", np.ascontiguousarray(a.astype(np_dtype)))
        writer.add_tensor(f"{target}.lora_b", np.ascontiguousarray(b.astype(np_dtype)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
