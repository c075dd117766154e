"""Real servers for ingest tests, started on 127.0.0.1 and stopped after: a Chroma server
(`chroma run`) and a local Ray cluster (a head and worker nodes, usage stats off)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def chroma_server(data: Path) -> Iterator[str]:
    """A Chroma server over ``data``; its URL. Skips when the `chroma` command is missing."""
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(exe).exists():
        pytest.skip("the `chroma` server command is not installed: it comes with chromadb (pip install chromadb==1.5.9)")
    port = free_port()
    proc = subprocess.Popen([exe, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_heartbeat(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_for_heartbeat(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                pytest.fail("chroma server did not answer within 60 s")
            time.sleep(0.3)


@contextlib.contextmanager
def ray_cluster(head_cpus: int, worker_cpus: list[int]) -> Iterator[str]:
    """A Ray cluster on this machine: a head with ``head_cpus`` and one worker node per entry of
    ``worker_cpus``; its address. Its processes import ragqa from this checkout. Skips without Ray."""
    pytest.importorskip("ray", reason='distributed ingest needs Ray Data: pip install "ragqa[ray]"')
    from ray.cluster_utils import Cluster

    with pytest.MonkeyPatch.context() as mp:  # what the nodes' processes inherit
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p))
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": head_cpus, "include_dashboard": False})
        try:
            for n in worker_cpus:
                cluster.add_node(num_cpus=n)
            cluster.wait_for_nodes()
            yield str(cluster.address)
        finally:
            cluster.shutdown()
