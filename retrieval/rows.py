"""Per-row metadata of one catalog generation, as arrays, and the memo of its visibility masks.

Row i is the i-th chunk id of the BM25 index; the vector matrix (``retrieval.vectors``) uses the
same rows, so one bool [n] mask (``VisibilityRule.row_mask``) serves both searches.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ingest.store import date_to_int
from ingest.types import Chunk

if TYPE_CHECKING:
    from .visibility import VisibilityRule

UNDATED = -1  # ``RowMeta.date`` of a chunk without a (parseable) date
MASK_MEMO = 64  # rules kept per rows object, n bools each (100 kB at 100k chunks)


@dataclass(frozen=True, eq=False)
class RowMeta:
    """Row metadata; row i is chunk ``ids[i]``. Compared by identity: one object per generation."""

    ids: list[str]
    group_rows: dict[str, npt.NDArray[np.bool_]]  # group -> bool [n]
    file_type: npt.NDArray[np.str_]  # [n]
    lang: npt.NDArray[np.str_]  # [n]
    date: npt.NDArray[np.int64]  # [n] YYYYMMDD, UNDATED when unknown
    source: list[str]  # [n]
    pos: dict[str, int] = field(default_factory=dict)  # chunk id -> row; built from ids when empty

    def __post_init__(self) -> None:
        if not self.pos:
            object.__setattr__(self, "pos", {cid: i for i, cid in enumerate(self.ids)})


def row_meta(ids: Sequence[str], chunks: Iterable[Chunk]) -> RowMeta:
    """The metadata of rows ``ids`` read from ``chunks`` (the catalog's; chunks that are not rows
    are skipped). A row without its chunk (deleted meanwhile) holds no group, so no caller sees it."""
    ids = list(ids)
    pos = {cid: i for i, cid in enumerate(ids)}
    n = len(ids)
    groups: dict[str, npt.NDArray[np.bool_]] = {}
    ftype = np.full(n, "", dtype=object)
    lang = np.full(n, "", dtype=object)
    date = np.full(n, UNDATED, dtype=np.int64)
    source: list[str] = [""] * n
    for c in chunks:
        i = pos.get(c.id)
        if i is None:
            continue
        for g in c.groups:
            groups.setdefault(g, np.zeros(n, dtype=np.bool_))[i] = True
        ftype[i], lang[i], source[i] = c.file_type, c.lang, c.source
        d = date_to_int(c.date)
        date[i] = UNDATED if d is None else d
    return RowMeta(ids, groups, ftype.astype(str), lang.astype(str), date, source, pos)


class RowMasks:
    """``rule.row_mask(rows)``, memoised for the latest ``rows`` asked about: at 100k chunks a
    language filter alone (``np.isin`` over the rows) costs ~1 ms, paid per list per query. The
    memo holds the rows object itself, so a new generation's rows never meet an old one's masks.
    Thread-safe; two callers may compute the same mask at once (both results are equal)."""

    def __init__(self, size: int = MASK_MEMO) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._rows: RowMeta | None = None
        self._memo: dict[VisibilityRule, npt.NDArray[np.bool_] | None] = {}

    def get(self, rows: RowMeta, rule: VisibilityRule) -> npt.NDArray[np.bool_] | None:
        with self._lock:
            if self._rows is rows and rule in self._memo:
                return self._memo[rule]
        mask = rule.row_mask(rows)
        with self._lock:
            if self._rows is not rows or len(self._memo) >= self._size:
                self._rows, self._memo = rows, {}  # another generation, or too many distinct callers
            self._memo[rule] = mask
        return mask
