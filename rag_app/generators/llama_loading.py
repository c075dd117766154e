"""Loading a llama.cpp model (``llama_cpp.Llama``) so that it runs on every x86 CPU that reports AMX.

ggml's CPU backend moves the weights into "extra" buffer types (AMX tiles, repacked blocks) when
the CPU reports the features. Its AMX kernels crash with SIGILL on their first batch (prompts
longer than a few tokens) where Linux leaves the tile data disabled for each new thread until
that thread asks for it: ggml asks on the main thread only (llama.cpp PR #26954, open). Measured
here on a Xeon that reports ``amx_tile``: SmolLM2 with a 300-token prompt died in
``ggml_backend_amx_mul_mat`` (``tileloadd``); with ``use_extra_bufts`` off it answers. So on a
CPU that reports AMX the extra buffer types are turned off (plain AVX-512 kernels); elsewhere
llama.cpp's defaults stay.

llama-cpp-python's ``Llama`` takes no argument for ``use_extra_bufts``: it reads
``llama_model_default_params()`` inside its constructor, so that function is replaced for the
duration of the load, under a lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

CPUINFO = Path("/proc/cpuinfo")
_load_lock = threading.Lock()


@functools.cache
def cpu_reports_amx(cpuinfo: Path = CPUINFO) -> bool:
    """Whether the CPU's flags list ``amx_tile`` (Linux; False where /proc/cpuinfo is absent)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.startswith("flags") and " amx_tile" in line for line in text.splitlines())


def _without_extra_buffers(defaults: Callable[[], Any]) -> Callable[[], Any]:
    def params() -> Any:
        p = defaults()
        p.use_extra_bufts = False
        return p

    return params


def open_llama(llama_cpp: Any, *, extra_buffers: bool | None = None, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(**kwargs)``; ``extra_buffers`` None: off where the CPU reports AMX."""
    if extra_buffers is None:
        extra_buffers = not cpu_reports_amx()
    if extra_buffers:
        return llama_cpp.Llama(**kwargs)
    module = llama_cpp.llama_cpp  # the bindings module Llama's constructor calls
    with _load_lock:
        defaults = module.llama_model_default_params
        module.llama_model_default_params = _without_extra_buffers(defaults)
        try:
            return llama_cpp.Llama(**kwargs)
        finally:
            module.llama_model_default_params = defaults


def extra_buffers_off_in_process(llama_cpp: Any) -> None:
    """Every later ``Llama`` of this process without extra buffer types (a server's models)."""
    module = llama_cpp.llama_cpp
    module.llama_model_default_params = _without_extra_buffers(module.llama_model_default_params)
