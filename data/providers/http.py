"""One shared HTTP client for the metadata providers, and requests that retry politely.

Retries cover what is worth retrying (time-outs, connection errors, 429, 5xx): exponential
backoff with full jitter, and a server's ``Retry-After`` wins over our own delay. Errors carry
a short, readable message that never includes a URL query string or a header, so API keys and
tokens cannot leak into logs, statuses or screens.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import logging
import random
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from shelver.data.clean_text import strip_unsafe
from shelver.data.providers.ratelimit import RateLimiter
from shelver.data.settings import ProviderSettings

USER_AGENT = "shelver/0.1 (terminal ebook library manager; +https://github.com/shelver)"
RETRIABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 120.0


class FailureKind(StrEnum):
    """Why a provider request failed; the UI can show a hint per kind."""

    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    SERVER = "server"
    TIMEOUT = "timeout"
    NETWORK = "network"
    BAD_RESPONSE = "bad_response"
    REQUEST = "request"


# What an echoed credential looks like: an auth scheme and its value, a key=value pair, a
# JWT, or any long unbroken run of token characters.
_CREDENTIAL = re.compile(
    r"(?i)\b(authorization|bearer|basic|token|api[_-]?key|access[_-]?token|key)(\s*[:=]\s*|\s+)"
    r"[^\s,;\"']+"
    r"|\beyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]+){0,2}"
    r"|[A-Za-z0-9_\-+/=.]{32,}"
)


def safe_to_show(message: str, limit: int = 300) -> str:
    """A message that may quote a provider, made safe for a terminal, a log or ``--json``:
    unsafe characters gone, one line, anything that looks like a credential replaced."""
    text = " ".join(strip_unsafe(message).split())
    text = _CREDENTIAL.sub(lambda m: (m.group(1) + " ***") if m.group(1) else "***", text)
    return text[:limit]


class ProviderError(Exception):
    """A provider request that did not give a usable answer. ``str()`` is safe to show."""

    def __init__(self, kind: FailureKind, message: str, status: int | None = None) -> None:
        super().__init__(safe_to_show(message))
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry one request."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = MAX_RETRY_AFTER_SECONDS
    """A longer ``Retry-After`` than this fails the request now (the user can retry later)."""


DEFAULT_POLICY = RetryPolicy()


SECRET_PARAMETER = re.compile(r"([?&](?:key|api_key|access_token|token)=)[^&\s\"']+", re.I)


class RedactSecrets(logging.Filter):
    """httpx logs each request's URL at INFO; Google's key rides in the query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SECRET_PARAMETER.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACTOR = RedactSecrets()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verification context, made once: each one loads the whole CA bundle
    (20–40 ms of CPU), and a client is made for every fetch and every sync."""
    return httpx.create_ssl_context()


def make_client(settings: ProviderSettings) -> httpx.AsyncClient:
    """The client every provider shares (one connection pool, one time-out policy)."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.timeout_seconds),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        follow_redirects=True,
        verify=_tls_context(),
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(attempt: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(max, base * 2**attempt)]."""
    ceiling = min(policy.max_delay, policy.base_delay * (2**attempt))
    return (rng or random).uniform(0, ceiling)


NETWORK_WORDS = (
    # (what the low-level error says, in lower case; what a person reads)
    ("refused", "connection refused"),
    ("name or service not known", "its name does not resolve (DNS)"),
    ("nodename nor servname", "its name does not resolve (DNS)"),
    ("temporary failure in name resolution", "its name does not resolve (DNS)"),
    ("getaddrinfo", "its name does not resolve (DNS)"),
    ("network is unreachable", "the network is unreachable"),
    ("no route to host", "no route to the host"),
    ("certificate", "its certificate was not accepted"),
    ("ssl", "the secure connection failed"),
    ("reset by peer", "the connection was reset"),
)


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything behind it (causes, contexts, grouped errors)."""
    found: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack:
        item = stack.pop()
        if item is None or any(item is seen for seen in found):
            continue
        found.append(item)
        stack += [item.__cause__, item.__context__, *getattr(item, "exceptions", ())]
    return found


def network_words(exc: httpx.TransportError) -> str:
    """A transport failure in plain words ("connection refused"). Only fixed phrases come out:
    the exception's own text can hold the URL, and so a key."""
    causes = _causes(exc)
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    if any(isinstance(c, socket.gaierror) for c in causes):
        return "its name does not resolve (DNS)"
    if any(isinstance(c, ConnectionResetError) for c in causes):
        return "the connection was reset"
    said = " ".join(str(c) for c in causes).lower()
    for clue, words in NETWORK_WORDS:
        if clue in said:
            return words
    if isinstance(exc, httpx.ProxyError):
        return "the proxy refused the connection"
    if isinstance(exc, httpx.ConnectError):
        return "the connection failed"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "the connection broke off"
    return "the network failed"


def describe_status(response: httpx.Response, service: str) -> ProviderError:
    """Turn a non-2xx answer into a readable error (body excerpts only from JSON messages)."""
    status = response.status_code
    detail = _error_detail(response)
    suffix = f": {detail}" if detail else ""
    if status in (401, 403) and not _looks_like_quota(detail):
        return ProviderError(
            FailureKind.AUTH, f"{service} refused the credentials (HTTP {status}){suffix}", status
        )
    if status == 429 or (status == 403 and _looks_like_quota(detail)):
        return ProviderError(
            FailureKind.RATE_LIMITED,
            f"{service} rate limit reached (HTTP {status}){suffix}",
            status,
        )
    if status >= 500:
        return ProviderError(FailureKind.SERVER, f"{service} server error (HTTP {status})", status)
    return ProviderError(
        FailureKind.REQUEST, f"{service} rejected the request (HTTP {status}){suffix}", status
    )


def _looks_like_quota(detail: str) -> bool:
    lowered = detail.lower()
    return any(word in lowered for word in ("quota", "rate limit", "ratelimit", "too many"))


def _error_detail(response: httpx.Response) -> str:
    """The message of a JSON error body (Google ``error.message``, Hardcover ``error``)."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return ""
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = body.get("error_description") or body.get("message") or error
        elif isinstance(body.get("errors"), list) and body["errors"]:
            first = body["errors"][0]
            message = first.get("message") if isinstance(first, dict) else first
    if not isinstance(message, str):
        return ""
    return safe_to_show(message, 200)


def decode_json(response: httpx.Response, service: str) -> Any:
    """The JSON body, or a BAD_RESPONSE error for empty, truncated or non-JSON bodies."""
    content = response.content.strip()
    if not content:
        raise ProviderError(FailureKind.BAD_RESPONSE, f"{service} sent an empty answer")
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        # A cut-off or broken JSON body, or something else entirely (a gateway's HTML page).
        what = "valid JSON" if content[:1] in (b"{", b"[") else "JSON"
        raise ProviderError(
            FailureKind.BAD_RESPONSE, f"{service} sent an answer that is not {what}"
        ) from None


def _unanswered(exc: httpx.HTTPError, service: str) -> ProviderError:
    """A request that got no answer, in plain words (the exception's own text can hold the URL)."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(FailureKind.TIMEOUT, f"{service} did not answer in time")
    if isinstance(exc, httpx.TransportError):
        return ProviderError(FailureKind.NETWORK, f"cannot reach {service}: {network_words(exc)}")
    # e.g. a redirect loop: named, never quoted
    return ProviderError(FailureKind.REQUEST, f"cannot reach {service} ({type(exc).__name__})")


Sleep = Callable[[float], Awaitable[None]]


@dataclass
class RequestStats:
    """Counters a provider keeps (the benchmark prints them)."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0


async def send_with_retry(
    client: httpx.AsyncClient,
    build: Callable[[], httpx.Request],
    *,
    service: str,
    policy: RetryPolicy = DEFAULT_POLICY,
    limiter: RateLimiter | None = None,
    stats: RequestStats | None = None,
    sleep: Sleep = asyncio.sleep,
) -> httpx.Response:
    """Send the request ``build()`` makes, retrying what is worth retrying; 2xx or raise.

    Every attempt passes the limiter, so retries count against a provider's allowance too.
    """
    stats = stats if stats is not None else RequestStats()
    last_error: ProviderError | None = None
    for attempt in range(policy.attempts):
        if attempt:
            stats.retries += 1
        try:
            if limiter is not None:
                async with limiter.slot():
                    stats.requests += 1
                    response = await client.send(build())
            else:
                stats.requests += 1
                response = await client.send(build())
        except httpx.HTTPError as exc:
            last_error = _unanswered(exc, service)
            if attempt + 1 < policy.attempts:
                await sleep(backoff_delay(attempt, policy))
            continue
        if response.is_success:
            return response
        error = describe_status(response, service)
        if response.status_code == 429:
            stats.rate_limited += 1
        if response.status_code not in RETRIABLE_STATUS:
            raise error
        last_error = error
        if attempt + 1 >= policy.attempts:
            break
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if wait is not None and wait > policy.max_retry_after:
            raise ProviderError(
                error.kind,
                f"{error} (asked to wait {round(wait)} s; try again later)",
                error.status,
            )
        await sleep(wait if wait is not None else backoff_delay(attempt, policy))
    assert last_error is not None
    raise last_error
