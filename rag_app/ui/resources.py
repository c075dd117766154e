"""What one page process shares between all its browser sessions, built once
(``st.cache_resource`` in ``streamlit_app.py``): the RAG configurations over one opened index,
the users file, the feedback store, the document list, the suggested questions, a worker pool,
the ingest slot."""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rag_app.rag import RAG

from .config import UIConfig
from .documents import DocumentLibrary
from .engines import Engines
from .feedback import FeedbackStore
from .ingest_jobs import IngestSlot
from .suggestions import QuestionBook
from .users import UsersFile

WORKERS = 4  # answers and ingests written at once in one process (local models serialise themselves)


@dataclass(frozen=True)
class PageResources:
    config: UIConfig
    engines: Engines
    users: UsersFile
    feedback: FeedbackStore
    library: DocumentLibrary
    questions: QuestionBook
    executor: ThreadPoolExecutor
    ingest: IngestSlot

    @property
    def rag(self) -> RAG:
        """The base configuration (ragqa.toml + RAGQA_* variables)."""
        return self.engines.base

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PageResources:
        e = os.environ if env is None else env
        base = RAG.from_config(e.get("RAGQA_CONFIG") or None)
        ui = UIConfig.for_index(base.config.index.index_dir, e)
        return cls(config=ui, engines=Engines(base), users=UsersFile(ui.users_file),
                   feedback=FeedbackStore(ui.feedback_file), library=DocumentLibrary(ui.index_dir),
                   questions=QuestionBook(),
                   executor=ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="ragqa-page"),
                   ingest=IngestSlot())


def env_key(env: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    """The environment that shapes ``PageResources`` (the ``RAGQA_*`` variables): the cache key,
    so a process started with other settings never gets another index's resources."""
    e = os.environ if env is None else env
    return tuple(sorted((k, v) for k, v in e.items() if k.startswith("RAGQA_")))
