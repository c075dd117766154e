"""Retries with exponential backoff and jitter, for HTTP generators.

Pure delay arithmetic plus one loop; the clock (``sleep``) and randomness are injectable so
tests run instantly and deterministically.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_retries`` retries after the first try; delays in seconds."""

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25  # each delay is shortened by a random 0..25 %
    max_retry_after: float = 60.0  # a server asking to wait longer than this is not retried


def backoff_delay(retry: int, policy: RetryPolicy, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number ``retry`` (0-based): ``base·2^retry`` capped at
    ``max_delay``, shortened by up to ``jitter`` so that clients do not retry in lock-step."""
    raw = min(policy.base_delay * (2.0 ** min(retry, 64)), policy.max_delay)
    return max(0.0, raw * (1.0 - policy.jitter * rand()))


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The server's requested wait from ``retry-after-ms`` or ``retry-after`` (seconds form), if any."""
    if not headers:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue  # HTTP-date form: fall back to our own backoff
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def call_with_retries(
    fn: Callable[[], T],
    *,
    is_retryable: Callable[[BaseException], bool],
    policy: RetryPolicy,
    server_delay: Callable[[BaseException], float | None] = lambda _e: None,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    label: str = "request",
) -> T:
    """Call ``fn``; on a retryable error wait and call again, at most ``policy.max_retries`` times.

    The last error is re-raised unchanged once retries are spent (callers map it to a message).
    A server-requested wait (Retry-After) replaces the computed delay when it is not too long.
    """
    retry = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            if retry >= policy.max_retries or not is_retryable(exc):
                raise
            requested = server_delay(exc)
            if requested is not None and requested > policy.max_retry_after:
                raise
            delay = requested if requested is not None else backoff_delay(retry, policy, rand)
            retry += 1
            log.warning("%s failed (%s); retry %d/%d in %.2f s", label, _short(exc), retry,
                        policy.max_retries, delay)
            sleep(delay)


def _short(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}" if status is not None else type(exc).__name__
