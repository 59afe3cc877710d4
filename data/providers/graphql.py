"""The one GraphQL client: Hardcover's metadata search and the Hardcover sync both post here.

A request goes through :func:`send_with_retry` (the shared rate limiter, retries, ``Retry-After``,
errors in plain words with secrets scrubbed). A 200 answer can still be a failure: its
``errors`` list (or a bare ``error`` body) becomes a :class:`ProviderError` too.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from shelver.data.providers import normalize
from shelver.data.providers.http import (
    DEFAULT_POLICY,
    FailureKind,
    ProviderError,
    RequestStats,
    RetryPolicy,
    Sleep,
    decode_json,
    describe_status,
    send_with_retry,
)
from shelver.data.providers.ratelimit import RateLimiter

AUTH_ERROR_CODES = {"invalid-headers", "invalid-jwt", "access-denied", "jwt-invalid-claims"}
"""GraphQL error codes that mean the token was refused."""


def bearer(token: str) -> str:
    """The ``authorization`` value of ``token``, given with or without its ``Bearer`` prefix."""
    token = token.strip()
    return token if token.lower().startswith("bearer ") else f"Bearer {token}"


def graphql_error(body: dict[str, Any], service: str) -> ProviderError | None:
    """The failure an answer reports: a GraphQL ``errors`` list or a bare ``error`` body."""
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
        message = " ".join(str(first.get("message") or "unknown error").split())[:200]
        code = normalize.as_dict(first.get("extensions")).get("code")
        kind = FailureKind.AUTH if code in AUTH_ERROR_CODES else FailureKind.BAD_RESPONSE
        return ProviderError(kind, f"{service} GraphQL error: {message}")
    error = body.get("error")
    if isinstance(error, str):
        detail = body.get("error_description") or body.get("message") or error
        detail = " ".join(str(detail).split())[:200]
        lowered = f"{error} {detail}".lower()
        if "too many" in lowered or "rate limit" in lowered:
            return ProviderError(
                FailureKind.RATE_LIMITED, f"{service} rate limit reached: {detail}"
            )
        if "authorization" in lowered or "token" in lowered:
            return ProviderError(FailureKind.AUTH, f"{service} refused the credentials: {detail}")
        return ProviderError(FailureKind.REQUEST, f"{service} rejected the request: {detail}")
    return None


def answer_data(response: httpx.Response, service: str) -> dict[str, Any]:
    """The ``data`` object of an answer; ProviderError for an error status, GraphQL errors, or
    a body that is not a JSON object with ``data``."""
    if not response.is_success:
        raise describe_status(response, service)
    body = decode_json(response, service)
    if not isinstance(body, dict):
        raise ProviderError(FailureKind.BAD_RESPONSE, f"{service}'s answer is not a JSON object")
    if (error := graphql_error(body, service)) is not None:
        raise error
    data = body.get("data")
    if not isinstance(data, dict):
        raise ProviderError(FailureKind.BAD_RESPONSE, f"{service}'s answer has no data")
    return data


class GraphQLClient:
    """Posts documents to one endpoint with a token, on a shared HTTP client and rate limiter."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        token: str,
        *,
        service: str,
        limiter: RateLimiter,
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self.http = http
        self.url = url
        self.service = service
        self.limiter = limiter
        self.policy = policy
        self.stats = RequestStats()
        self.sleep: Sleep = asyncio.sleep
        """How retries wait (tests swap it for a recorder)."""
        self._authorization = bearer(token)
        self._token = self._authorization.split(" ", 1)[1].strip()

    def _without_token(self, error: ProviderError) -> ProviderError:
        """``error`` with our own token taken out, should a server have quoted it back (a short
        token is not caught by the patterns ``safe_to_show`` scrubs)."""
        if not self._token or self._token not in str(error):
            return error
        return ProviderError(error.kind, str(error).replace(self._token, "***"), error.status)

    async def post(self, document: str, variables: dict[str, Any]) -> httpx.Response:
        """The 2xx answer to ``document``, after the limiter and any retries."""
        payload = {"query": document, "variables": variables}

        def build() -> httpx.Request:
            return self.http.build_request(
                "POST", self.url, json=payload, headers={"authorization": self._authorization}
            )

        try:
            return await send_with_retry(
                self.http,
                build,
                service=self.service,
                policy=self.policy,
                limiter=self.limiter,
                stats=self.stats,
                sleep=self.sleep,
            )
        except ProviderError as exc:
            raise self._without_token(exc) from None

    async def execute(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a successful answer; ProviderError otherwise."""
        response = await self.post(document, variables)
        try:
            return answer_data(response, self.service)
        except ProviderError as exc:
            raise self._without_token(exc) from None
