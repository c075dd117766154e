"""Fine-tuning ragqa's local generator (``ragqa finetune``): RAFT / Alpaca data built with the
answer path's own prompt builder, LoRA / QLoRA / DPO training with trl + peft, an adapter
manifest checked when serving, and a GGUF LoRA export for llama.cpp.

- ``config``: ``DataConfig``, ``TrainConfig``, LoRA targets per architecture;
- ``sources`` (gold QA and feedback readers), ``split`` (by document), ``raft`` (records),
  ``feedback`` (feedback -> targets / preference pairs), ``questions`` (generated questions),
  ``records`` (file forms), ``card`` (data card), ``data`` (``build_dataset``: the phases);
- ``train`` (``train(TrainConfig) -> TrainResult``; imports torch), ``manifest``,
  ``gguf_lora`` (``convert_adapter``), ``cli`` (the Typer commands).

Importing this package loads nothing heavy: torch, transformers, trl and peft load in ``train``.
"""

from .config import DataConfig, TrainConfig, targets_for

__all__ = ["DataConfig", "TrainConfig", "targets_for"]
