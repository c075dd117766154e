"""An ingest run in a worker thread, followed by the Documents page.

Run in the page script, an ingest would be stopped by the next rerun (any click); run here it
goes on, and every script run shows its progress. One job per process at a time: the index's
own lock refuses a second ingest anyway (``IngestBusyError``), this says so before starting one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.pipeline import IngestReport


@dataclass(frozen=True, slots=True)
class Progress:
    stage: str
    done: int
    total: int
    path: str


def _as_progress(ev: Any) -> Progress:
    """An ``ingest.pipeline.IngestProgress`` (stage, done, total, path) as the page's value."""
    return Progress(stage=str(getattr(ev, "stage", "")), done=int(getattr(ev, "done", 0) or 0),
                    total=int(getattr(ev, "total", 0) or 0), path=str(getattr(ev, "path", "") or ""))


class IngestJob:
    """``ingest(paths, progress=callback)`` in a worker thread. ``after`` runs when it ended
    (e.g. deleting uploads that failed), in the worker."""

    def __init__(self, label: str, paths: Sequence[Path], ingest: Callable[..., IngestReport],
                 after: Callable[[IngestReport], None] | None = None) -> None:
        self.label = label
        self.paths = list(paths)
        self._ingest = ingest
        self._after = after
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self.report: IngestReport | None = None
        self.error: str | None = None
        self.started = time.time()
        self.finished: float | None = None

    def start(self, executor: Executor) -> IngestJob:
        executor.submit(self._run)
        return self

    def run_here(self) -> IngestJob:
        self._run()
        return self

    def _on_progress(self, ev: Any) -> None:
        with self._lock:
            self._progress = _as_progress(ev)

    def _run(self) -> None:
        try:
            report = self._ingest(self.paths, progress=self._on_progress)
            if self._after is not None:
                self._after(report)
            self.report = report
        except Exception as e:  # shown on the page; the index keeps what it had (ingest is crash-safe)
            self.error = str(e) or type(e).__name__
        finally:
            self.finished = time.time()

    @property
    def progress(self) -> Progress | None:
        with self._lock:
            return self._progress

    @property
    def done(self) -> bool:
        return self.finished is not None


class IngestSlot:
    """The process's one running ingest (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.job: IngestJob | None = None

    def begin(self, job: IngestJob, executor: Executor) -> str | None:
        """Start ``job``; a message when another one is still running."""
        with self._lock:
            if self.job is not None and not self.job.done:
                return f"An ingest is already running ({self.job.label}); wait for it to finish."
            self.job = job
        job.start(executor)
        return None
