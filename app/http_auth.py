"""HTTP Basic authentication for every route that takes it (OPDS, WebDAV, ...).

One function, :func:`require_basic`, parses the ``Authorization`` header, asks the app's
:class:`~shelver.data.device_auth.DeviceAuthenticator` and either returns the caller or raises
401 with ``WWW-Authenticate: Basic realm="shelver"``. Every refusal (no header, a malformed one,
an unknown name, a wrong password, a revoked key) is the same answer. ``Authorization: Bearer
shv_...`` is accepted for API keys too (scripts).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from aiohttp import web

from shelver.data.device_auth import DeviceAuthenticator, Principal

REALM = "shelver"
AUTHENTICATOR_KEY = web.AppKey("device_authenticator", DeviceAuthenticator)
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
    principal = await request.app[AUTHENTICATOR_KEY].check(
        name, password, services=services, allow_api_keys=allow_api_keys
    )
    if principal is None:
        raise unauthorized()
    request[PRINCIPAL_KEY] = principal
    return principal
