"""What every page part is given: the process's resources, who is asking, with which settings."""

from __future__ import annotations

from dataclasses import dataclass

from rag_app.rag import RAG
from rag_app.ui.engines import EngineKey
from rag_app.ui.resources import PageResources
from rag_app.ui.settings import PageSettings
from rag_app.ui.users import User
from retrieval.types import Filters


@dataclass(frozen=True)
class PageContext:
    res: PageResources
    user: User
    settings: PageSettings
    filters: Filters | None

    @property
    def rag(self) -> RAG:
        """The shared RAG for this session's settings (one per configuration per process)."""
        s = self.settings
        return self.res.engines.get(EngineKey(generator=s.generator, mode=s.mode, top_k=s.top_k))

    @property
    def groups(self) -> list[str]:
        return list(self.user.groups)
