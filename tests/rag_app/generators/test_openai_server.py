"""OpenAIGenerator against real HTTP servers on 127.0.0.1.

* ``python -m llama_cpp.server`` serving the bundled SmolLM2 GGUF, with an API key so that the
  401 path is the server's own;
* a tiny ``http.server`` answering the recorded OpenAI 404 ``model_not_found`` error and a model
  list, because llama.cpp's server serves its one model under any name.
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("openai", reason="the openai SDK is not installed: pip install 'ragqa[openai]'")

from gen_recordings import load

from rag_app.generators.errors import GeneratorAuthError, GeneratorUnavailableError, ModelNotFoundError
from rag_app.generators.openai_compat import OpenAIGenerator
from rag_app.models import ModelNotInstalledError, model_path
from rag_app.types import Message

pytestmark = pytest.mark.server

SERVER_KEY = "ragqa-test-server-key"
MESSAGES = [Message("system", "You are a helpful assistant. Answer in one short sentence."),
            Message("user", "What is the capital of France?")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_models(url: str, proc: subprocess.Popen[bytes], log: Path, deadline_s: float) -> None:
    import httpx2

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx2.get(f"{url}/models", headers={"Authorization": f"Bearer {SERVER_KEY}"},
                          timeout=2.0).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"llama_cpp.server not ready after {deadline_s} s:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: pip install 'llama-cpp-python[server]'")
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("sse_starlette") is None:
        pytest.skip("llama_cpp.server needs its extra: pip install 'llama-cpp-python[server]'")
    try:
        gguf = model_path("smollm2")
    except ModelNotInstalledError as exc:
        pytest.skip(str(exc))
    port = _free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag_app.generators.llama_server", "--model", str(gguf), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--api_key", SERVER_KEY],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_for_models(url, proc, log, deadline_s=120)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def server_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGQA_TEST_SERVER_KEY", SERVER_KEY)


@pytest.mark.slow  # ~10 s alone; 30-40 s on a busy 2-core machine
@pytest.mark.usefixtures("server_key")
def test_generate_and_stream_against_llama_cpp_server(llama_server: str) -> None:
    gen = OpenAIGenerator("smollm2", base_url=llama_server, api_key_env="RAGQA_TEST_SERVER_KEY", timeout=120)
    result = gen.generate(MESSAGES, max_tokens=16)
    assert result.text
    assert 20 < result.prompt_tokens < 60 and 1 <= result.completion_tokens <= 16
    assert result.finish_reason in ("stop", "length")

    events = list(gen.stream(MESSAGES, max_tokens=16))
    final = events[-1]
    assert final.done and final.result is not None
    assert final.result.text == "".join(e.delta for e in events[:-1])
    assert final.result.text == result.text  # temperature 0 on the same server: same answer
    # llama.cpp's server takes stream_options but sends no usage chunk: chunks are counted.
    assert 1 <= final.result.completion_tokens <= 16


def test_wrong_key_gets_the_401_message(llama_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGQA_TEST_SERVER_KEY", "not-the-key-1234567890")
    gen = OpenAIGenerator("smollm2", base_url=llama_server, api_key_env="RAGQA_TEST_SERVER_KEY")
    with pytest.raises(GeneratorAuthError) as info:
        gen.generate(MESSAGES, max_tokens=4)
    assert str(info.value).startswith(f"authentication failed for {llama_server}: set RAGQA_TEST_SERVER_KEY")
    assert "not-the-key-1234567890" not in str(info.value)


class _RecordedOpenAI(http.server.BaseHTTPRequestHandler):
    """POST /v1/chat/completions -> recorded 404 model_not_found; GET /v1/models -> recorded list."""

    def _send(self, name: str) -> None:
        resp = load(name)["response"]
        body = json.dumps(resp["body"]).encode()
        self.send_response(resp["status"])
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send("openai_models")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self._send("openai_404_model")

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def recorded_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordedOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_unknown_model_over_real_http(recorded_server: str) -> None:
    gen = OpenAIGenerator("gpt-nonexistent", base_url=recorded_server)
    with pytest.raises(ModelNotFoundError) as info:
        gen.generate(MESSAGES)
    assert f"model 'gpt-nonexistent' not found at {recorded_server} (HTTP 404)" in str(info.value)
    assert "available models: gpt-4.1-mini, gpt-4o, gpt-4o-mini" in str(info.value)


def test_nothing_listening_is_reported_after_retries() -> None:
    sleeps: list[float] = []
    url = f"http://127.0.0.1:{_free_port()}/v1"
    gen = OpenAIGenerator("m", base_url=url, max_retries=2, sleep=sleeps.append, timeout=5)
    with pytest.raises(GeneratorUnavailableError, match=r"cannot reach .* after 2 retries"):
        gen.generate(MESSAGES)
    assert len(sleeps) == 2
