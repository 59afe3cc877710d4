"""HTTP Basic authentication for every route that takes it (OPDS, WebDAV, ...).

One function, :func:`require_basic`, parses the ``Authorization`` header, asks the app's
:class:`~shelver.data.device_auth.DeviceAuthenticator` and either returns the caller or raises
401 with ``WWW-Authenticate: Basic realm="shelver"``. Every refusal (no header, a malformed one,
an unknown name, a wrong password, a revoked key) is the same answer. Every check goes through
the server's :class:`~shelver.data.login_guard.LoginGuard`: after a few failures the address or
name is refused (429) without hashing. ``Authorization: Bearer
shv_...`` is accepted for API keys too (scripts).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from aiohttp import web

from shelver.data.device_auth import DeviceAuthenticator, Principal
from shelver.data.login_guard import LoginGuard

REALM = "shelver"
AUTHENTICATOR_KEY = web.AppKey("device_authenticator", DeviceAuthenticator)
GUARD_KEY = web.AppKey("login_guard", LoginGuard)
"""The one login rate limiter of the server (KoSync and every Basic-auth route share it)."""
PRINCIPAL_KEY = web.RequestKey("principal", Principal)
# Far above any real name plus password; a longer header is refused without decoding it.
MAX_CREDENTIAL_CHARS = 8192


def parse_authorization(header: str | None) -> tuple[str, str] | None:
    """(name, password) from a Basic header, ("", key) from a Bearer one; else None."""
    if not header or len(header) > MAX_CREDENTIAL_CHARS:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return "", value
    if scheme != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    name, colon, password = decoded.partition(":")
    if not colon or "\x00" in decoded:
        return None
    return name, password


def client_address(request: web.Request) -> str:
    """The peer's address, the key of every per-client limit ("-" when unknown)."""
    return request.remote or "-"


def unauthorized() -> web.HTTPUnauthorized:
    """The one refusal: 401 with a Basic challenge (KOReader then asks for a login)."""
    return web.HTTPUnauthorized(
        headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
        text="Authentication required\n",
    )


async def require_basic(
    request: web.Request,
    *,
    services: Sequence[str] = ("opds",),
    allow_api_keys: bool = True,
) -> Principal:
    """The authenticated caller of ``request``, or raise 401."""
    known = request.get(PRINCIPAL_KEY)
    if known is not None:
        return known
    credentials = parse_authorization(request.headers.get("Authorization"))
    if credentials is None:
        raise unauthorized()
    name, password = credentials
    authenticator = request.config_dict[AUTHENTICATOR_KEY]
    found: list[Principal] = []

    async def verify() -> bool:
        principal = await authenticator.check(
            name, password, services=services, allow_api_keys=allow_api_keys
        )
        if principal is not None:
            found.append(principal)
        return principal is not None

    # Raises LoginRefused (answered 429 with Retry-After) once the address or name is locked.
    if not await request.config_dict[GUARD_KEY].check(client_address(request), name, verify):
        raise unauthorized()
    principal = found[0]
    request[PRINCIPAL_KEY] = principal
    return principal
