"""Rate limits for the web app: moving windows in memory (the ``limits`` library), one limiter per app.

A :class:`Rule` names what is counted and its limits (``"5/minute;20/hour"``); a check names
the rule and whose budget it spends (a client address, an applicant, an email address).
:meth:`RateLimiter.hit` spends one unit of every budget it is given, or none when any is
spent out, and raises :class:`RateLimited` with the seconds until the next unit frees up;
:func:`too_many` turns that into the 429 answer with ``Retry-After``.

The counters live in this process: with several web processes each counts on its own, which
multiplies the limits by their number (a shared storage of ``limits`` would fix that).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import Scope

#: Where the app's limiter is found in a request's ``scope["state"]`` (see :func:`limiter_of`).
STATE_KEY = "credflow_rate_limiter"


def parse_limits(text: str) -> tuple[RateLimitItem, ...]:
    """The limits of ``text`` (``"120/minute;2000/hour"``).

    Raises:
        ValueError: ``text`` is not a list of limits.
    """
    try:
        found = tuple(parse_many(text))
    except ValueError:
        raise ValueError(f"{text!r} is not a rate limit: use e.g. '120/minute;2000/hour'") from None
    if not found:
        raise ValueError(f"{text!r} names no rate limit")
    return found


@dataclass(frozen=True)
class Rule:
    """What is counted, how much is allowed, and how a refusal names it.

    Attributes:
        name: The counter's namespace, e.g. ``"upload-grant:client"``; two rules never share one.
        limits: The moving windows, all enforced.
        what: The plural noun of the refusal, e.g. ``"upload URLs"``.
        per: Whose budget, for the refusal, e.g. ``"from this address"``.
    """

    name: str
    limits: tuple[RateLimitItem, ...]
    what: str
    per: str

    @classmethod
    def of(cls, name: str, text: str, *, what: str, per: str) -> Rule:
        """A rule from a limits string (``"5/minute;20/hour"``); ValueError when it is not one."""
        return cls(name=name, limits=parse_limits(text), what=what, per=per)


class RateLimited(Exception):
    """A budget is spent out; ``retry_after`` seconds until it allows one more."""

    def __init__(self, rule: Rule, limit: RateLimitItem, retry_after: int) -> None:
        self.rule = rule
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """What the refused person reads."""
        amount = self.limit.amount
        unit, count = self.limit.GRANULARITY.name, self.limit.multiples
        window = unit if count == 1 else f"{count} {unit}s"
        return (
            f"too many {self.rule.what} {self.rule.per} (at most {amount} per {window}): "
            f"try again in {_duration(self.retry_after)}"
        )


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 2 * 3600:
        return f"{math.ceil(seconds / 60)} minutes"
    return f"{math.ceil(seconds / 3600)} hours"


class RateLimiter:
    """Moving-window counters in this process's memory; safe to share between threads and the event loop."""

    def __init__(self) -> None:
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)

    def close(self) -> None:
        """Cancel the storage's pending expiry timer (a non-daemon thread ``limits`` starts after each hit).

        The app's lifespan calls this on shutdown, so the process exits without waiting on it: under
        libfaketime, whose monotonic clock the timer's timed wait never reaches, it would wait for ever.
        """
        self._storage.timer.cancel()

    def hit(self, *checks: tuple[Rule, str]) -> None:
        """Spend one unit of each ``(rule, key)`` budget, or none when any of them is spent out.

        Raises:
            RateLimited: the budget that frees up last among those spent out.
        """
        refused: RateLimited | None = None
        for rule, key in checks:
            for limit in rule.limits:
                if not self._limiter.test(limit, rule.name, key):
                    found = RateLimited(rule, limit, self._retry_after(limit, rule, key))
                    if refused is None or found.retry_after > refused.retry_after:
                        refused = found
        if refused is not None:
            raise refused
        for rule, key in checks:
            for limit in rule.limits:
                # Another request may have spent the last unit since test(): then this one is refused too.
                if not self._limiter.hit(limit, rule.name, key):
                    raise RateLimited(rule, limit, self._retry_after(limit, rule, key))

    def _retry_after(self, limit: RateLimitItem, rule: Rule, key: str) -> int:
        reset = self._limiter.get_window_stats(limit, rule.name, key).reset_time
        return max(1, math.ceil(reset - time.time()))


def too_many(refusal: RateLimited) -> HTTPException:
    """The 429 answer to a refusal, with ``Retry-After`` in seconds."""
    return HTTPException(429, refusal.message, headers={"Retry-After": str(refusal.retry_after)})


def client_address(scope: Scope) -> str:
    """The client's address as the server sees it (behind a proxy, uvicorn's ``--proxy-headers`` set it)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def limiter_of(request: Request) -> RateLimiter:
    """The app's limiter, which :class:`web.limits.RequestLimits` puts in every request's state.

    Raises:
        RuntimeError: the app was built without the middleware.
    """
    found = request.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(found, RateLimiter):
        raise RuntimeError("no rate limiter in the request: build the app with create_app (RequestLimits)")
    return found
