"""The data side of ``rag_app.finetune`` and ``ragqa finetune --help`` load no torch or trainer
library: they load in ``rag_app.finetune.train`` only."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "bitsandbytes")


def test_data_modules_and_cli_import_nothing_heavy() -> None:
    code = ("import sys, rag_app.finetune, rag_app.finetune.data, rag_app.finetune.cli, rag_app.finetune.gguf_lora, "
            "rag_app.finetune.manifest, rag_app.cli; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
