"""HTTP Basic authentication for the routes devices log in to (WebDAV, OPDS).

One function checks a request's ``Authorization: Basic`` header against the logins of a
service through a :class:`~shelver.data.passwords.KeyVerifier`. KoSync logins store a hash of
``md5(password)`` (what KOReader's sync plugin sends), so for them the password is turned into
that key first (``as_key``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from aiohttp import web

from shelver.data.kosync import valid_key, valid_username
from shelver.data.passwords import KeyVerifier

USER_KEY = web.RequestKey("user", str)
"""The authenticated (or just registered) user of a request, for its log line."""
CHALLENGE = 'Basic realm="shelver", charset="UTF-8"'


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    """The (username, password) of a Basic ``Authorization`` header; None when absent or
    malformed."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    if not colon or not valid_username(username) or not valid_key(password):
        return None
    return username, password


async def authenticate_basic(
    request: web.Request,
    verifier: KeyVerifier,
    *,
    as_key: Callable[[str], str] = lambda password: password,
) -> str | None:
    """The login named by the request when its password is right, else None."""
    credentials = basic_credentials(request)
    if credentials is None:
        return None
    username, password = credentials
    if await verifier.verify(username, as_key(password)):
        return username
    return None


def unauthorized() -> web.Response:
    """401 with the Basic challenge (so curl, browsers and file managers ask for a login)."""
    return web.Response(status=401, text="Unauthorized\n", headers={"WWW-Authenticate": CHALLENGE})
