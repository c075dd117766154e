"""``python -m rag_app.generators.llama_server ARGS``: llama-cpp-python's OpenAI-compatible server
(``python -m llama_cpp.server ARGS``, the same arguments) loading its models as ragqa does: extra
buffer types off where the CPU reports AMX (:mod:`rag_app.generators.llama_loading`), where the
plain server dies on its first long prompt."""

from __future__ import annotations

import runpy
import sys

from rag_app.generators.llama_loading import cpu_reports_amx, extra_buffers_off_in_process

PIP_HINT = "pip install 'llama-cpp-python[server]'"


def main() -> None:
    try:
        import llama_cpp
    except ImportError:
        sys.exit(f"the llama.cpp server needs llama-cpp-python: {PIP_HINT}")
    if cpu_reports_amx():
        extra_buffers_off_in_process(llama_cpp)
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
