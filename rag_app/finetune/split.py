"""Train / validation split by document or article, never by question: questions about the same
text would otherwise leak the answer across the split."""

from __future__ import annotations

import random
from collections.abc import Iterable

TRAIN, VALID = "train", "valid"


def split_groups(groups: Iterable[str], valid_share: float, seed: int = 0) -> dict[str, str]:
    """``group -> "train" | "valid"``: a seeded shuffle of the distinct groups (sorted first, so the
    split does not depend on input order), the first ``round(n * valid_share)`` held out (at least
    one when the share is > 0 and there are two or more groups)."""
    if not 0.0 <= valid_share < 1.0:
        raise ValueError(f"valid_share={valid_share}; it must be in [0, 1)")
    distinct = sorted(set(groups))
    random.Random(seed).shuffle(distinct)
    n_valid = round(len(distinct) * valid_share)
    if valid_share > 0 and len(distinct) >= 2:
        n_valid = min(max(n_valid, 1), len(distinct) - 1)
    return {g: (VALID if i < n_valid else TRAIN) for i, g in enumerate(distinct)}
