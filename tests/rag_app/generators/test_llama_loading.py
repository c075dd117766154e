"""llama.cpp models load without ggml's extra buffer types where the CPU reports AMX."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

from rag_app.generators.llama_loading import cpu_reports_amx, extra_buffers_off_in_process, open_llama


def _fake_llama_cpp() -> Any:
    """A stand-in for the ``llama_cpp`` package: ``Llama`` records the model params it reads."""
    bindings = types.SimpleNamespace(llama_model_default_params=lambda: types.SimpleNamespace(use_extra_bufts=True))

    class Llama:
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs
            self.params = bindings.llama_model_default_params()

    return types.SimpleNamespace(llama_cpp=bindings, Llama=Llama)


def test_cpuinfo_flags_decide(tmp_path: Path) -> None:
    amx, plain = tmp_path / "amx", tmp_path / "plain"
    amx.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile amx_int8\n")
    plain.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f\n")
    assert cpu_reports_amx(amx) and not cpu_reports_amx(plain) and not cpu_reports_amx(tmp_path / "absent")


def test_extra_buffers_off_for_the_load_only() -> None:
    fake = _fake_llama_cpp()
    off = open_llama(fake, extra_buffers=False, model_path="m.gguf", n_ctx=256)
    assert off.params.use_extra_bufts is False and off.kwargs == {"model_path": "m.gguf", "n_ctx": 256}
    assert fake.llama_cpp.llama_model_default_params().use_extra_bufts is True  # restored
    assert open_llama(fake, extra_buffers=True).params.use_extra_bufts is True


def test_a_server_process_keeps_them_off() -> None:
    fake = _fake_llama_cpp()
    extra_buffers_off_in_process(fake)
    assert fake.Llama().params.use_extra_bufts is False


def test_the_bundled_model_answers_a_long_prompt() -> None:
    """The prompt length at which ggml's AMX kernels crashed (a batch of ~300 tokens)."""
    llama_cpp = pytest.importorskip("llama_cpp", reason='llama-cpp-python missing: pip install -e ".[llama]"')
    from rag_app.models import ModelNotInstalledError, model_path

    try:
        gguf = model_path("smollm2")
    except ModelNotInstalledError as exc:
        pytest.skip(str(exc))
    llm = open_llama(llama_cpp, model_path=str(gguf), n_ctx=1024, n_threads=2, verbose=False)
    out = llm.create_completion("The VPN disconnects after eight hours. " * 40 + "The VPN disconnects after",
                                max_tokens=4, temperature=0.0)
    assert out["usage"]["prompt_tokens"] > 300 and out["choices"][0]["text"].strip()
    llm.close()
