"""``shelver serve``: the KoSync HTTP server (aiohttp) and, beside it, the inbox watcher.

Routes and answers follow koreader-sync-server exactly (../shared/docs/protocols.md); the
validation and storage live in ``data.kosync``. Every failure is answered with a KoSync error
body; nothing reaches the client as a 500. One log line per request: address, method, path,
status, time and user, never a key or a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web

from shelver.app import opds
from shelver.app.draining import IN_FLIGHT_KEY, Handler, InFlight, track_in_flight
from shelver.app.http_auth import AUTHENTICATOR_KEY, GUARD_KEY, PRINCIPAL_KEY, client_address
from shelver.app.http_limits import (
    LIMITS_KEY,
    LimitedSite,
    install_bad_request_log,
    limits_of,
    request_finished,
    request_started,
)
from shelver.app.opds import OpdsOptions
from shelver.app.webdav import add_webdav
from shelver.data import kosync
from shelver.data.db import Database
from shelver.data.device_auth import DeviceAuthenticator
from shelver.data.home import Home
from shelver.data.kosync import KoSyncError, ProgressReader, ProgressWriter
from shelver.data.login_guard import LoginGuard, LoginRefused, escape_for_log
from shelver.data.passwords import KeyVerifier
from shelver.data.settings import ServerLimits, Settings
from shelver.data.watcher import watch_inbox

log = logging.getLogger("shelver.serve")
access_log = logging.getLogger("shelver.serve.access")

POOL_KEY = web.AppKey("pool", asyncpg.Pool)
WRITER_KEY = web.AppKey("writer", ProgressWriter)
READER_KEY = web.AppKey("reader", ProgressReader)
VERIFIER_KEY = web.AppKey("verifier", KeyVerifier)
REGISTRATION_KEY = web.AppKey("allow_registration", bool)
USER_KEY = web.RequestKey("user", str)
"""The authenticated (or just registered) user of a request, for its log line."""

# Routes under these prefixes answer errors as plain HTTP, not as KoSync JSON bodies.
PLAIN_HTTP_PREFIXES = ("/opds", "/dav")

STOP_SECONDS = 10.0
"""On SIGTERM, how long the requests in hand may take before their connections are closed."""


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status)


def _error(code: int) -> web.Response:
    error = KoSyncError(code)
    return _json(error.status, error.body())


async def _read_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, refusing oversized bodies before reading them."""
    length = request.content_length
    if length is not None and length > kosync.MAX_BODY_BYTES:
        raise KoSyncError(kosync.ERROR_INVALID_FIELDS, "Request body too large")
    try:
        if request.content.is_eof():  # all of it arrived with the headers: nothing to wait for
            raw = await request.read()
        else:  # A KoSync body is a few hundred bytes: one dripped in is not waited for.
            async with asyncio.timeout(limits_of(request).request_body_seconds):
                raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise KoSyncError(kosync.ERROR_INVALID_FIELDS, "Request body too large") from None
    except TimeoutError:
        raise KoSyncError(kosync.ERROR_INVALID_FIELDS, "Request body too slow") from None
    return kosync.decode_json_object(raw)


async def _authorize(request: web.Request) -> str:
    """The user named by ``x-auth-user`` when ``x-auth-key`` is right; else 401 code 2001."""
    username = request.headers.get("x-auth-user")
    key = request.headers.get("x-auth-key")
    if not kosync.valid_username(username) or not kosync.valid_key(key):
        raise KoSyncError(kosync.ERROR_UNAUTHORIZED)
    assert username is not None and key is not None
    verifier = request.app[VERIFIER_KEY]
    if not await request.app[GUARD_KEY].check(
        client_address(request), username, lambda: verifier.verify(username, key)
    ):
        raise KoSyncError(kosync.ERROR_UNAUTHORIZED)
    request[USER_KEY] = username
    return username


async def create_user(request: web.Request) -> web.Response:
    if not request.app[REGISTRATION_KEY]:
        raise KoSyncError(kosync.ERROR_REGISTRATION_DISABLED)
    username, key = kosync.parse_registration(await _read_body(request))
    pool = request.app[POOL_KEY]
    if await kosync.user_hash(pool, username) is not None:
        raise KoSyncError(kosync.ERROR_USER_EXISTS)  # answered before counting or hashing
    request.app[GUARD_KEY].admit_registration(client_address(request))
    if not await kosync.create_user(pool, username, key):
        raise KoSyncError(kosync.ERROR_USER_EXISTS)
    request.app[VERIFIER_KEY].forget(username)
    request[USER_KEY] = username
    return _json(201, {"username": username})


async def auth_user(request: web.Request) -> web.Response:
    await _authorize(request)
    return _json(200, {"authorized": "OK"})


async def update_progress(request: web.Request) -> web.Response:
    username = await _authorize(request)
    update = kosync.parse_progress(await _read_body(request), login=username)
    await request.app[WRITER_KEY].submit(update)
    return _json(200, {"document": update.document, "timestamp": update.timestamp})


async def get_progress(request: web.Request) -> web.Response:
    username = await _authorize(request)
    document = request.match_info["document"]
    if not kosync.valid_document(document):
        raise KoSyncError(kosync.ERROR_DOCUMENT_FIELD)
    return _json(200, await request.app[READER_KEY].latest(document, username))


async def healthcheck(request: web.Request) -> web.Response:
    return _json(200, {"state": "OK"})


def _too_many(request: web.Request, refused: LoginRefused) -> web.Response:
    """429 with Retry-After: in KoSync's shape, or plain text for the Basic-auth routes."""
    message = str(refused).capitalize()
    headers = {"Retry-After": str(refused.retry_after)}
    if request.path.startswith(PLAIN_HTTP_PREFIXES):
        return web.Response(status=429, text=message + "\n", headers=headers)
    return web.json_response(
        {"code": kosync.ERROR_UNAUTHORIZED, "message": message}, status=429, headers=headers
    )


def _logged_path(request: web.Request) -> str:
    """The path as sent (still percent-encoded, without the query): a ``%0A`` in it cannot
    start a forged log line, and nothing after ``?`` is written down."""
    return escape_for_log(request.rel_url.raw_path, limit=500)


def _logged_user(request: web.Request) -> str:
    user = request.get(USER_KEY)
    if user is None:
        principal = request.get(PRINCIPAL_KEY)
        user = principal.log_name if principal is not None else "-"
    return user


@web.middleware
async def errors_and_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a KoSync error body and log one line per request."""
    started = time.perf_counter()
    request_started(request)
    try:
        response = await handler(request)
    except KoSyncError as exc:
        response = _json(exc.status, exc.body())
    except LoginRefused as refused:
        await asyncio.sleep(refused.delay)  # a client that keeps guessing is slowed down
        response = _too_many(request, refused)
    except web.HTTPException as exc:
        if request.path.startswith(PLAIN_HTTP_PREFIXES):
            # OPDS, WebDAV: plain HTTP answers that keep their headers (WWW-Authenticate).
            response = web.Response(status=exc.status, text=exc.text, headers=exc.headers)
        else:  # 404, 405 from the router, in KoSync's shape
            response = _json(
                exc.status, {"code": kosync.ERROR_INVALID_FIELDS, "message": exc.reason}
            )
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a database failure: the reference server's "internal" answer
        log.error("%s %s failed: %s", request.method, _logged_path(request), type(exc).__name__)
        if request.path.startswith(PLAIN_HTTP_PREFIXES):
            response = web.Response(status=503, text="The library is not available right now\n")
        else:
            response = _error(kosync.ERROR_INTERNAL)
    access_log.info(
        '%s "%s %s" %d %.1fms user=%s',
        escape_for_log(client_address(request)),
        escape_for_log(request.method),
        _logged_path(request),
        response.status,
        (time.perf_counter() - started) * 1000,
        escape_for_log(_logged_user(request)),
    )
    request_finished(request)
    return response


def create_app(
    pool: asyncpg.Pool,
    writer: ProgressWriter,
    *,
    allow_registration: bool = False,
    verifier: KeyVerifier | None = None,
    opds_options: OpdsOptions | None = None,
    guard: LoginGuard | None = None,
    dav_dir: Path | None = None,
    limits: ServerLimits | None = None,
) -> web.Application:
    """The KoSync application over an open pool and a started writer (``limits``: the
    ``[server]`` settings; the defaults when None)."""
    app = web.Application(
        middlewares=[track_in_flight, errors_and_log], client_max_size=kosync.MAX_BODY_BYTES
    )
    app[IN_FLIGHT_KEY] = InFlight()
    app[POOL_KEY] = pool
    app[WRITER_KEY] = writer
    app[READER_KEY] = ProgressReader(pool)
    app.on_cleanup.append(_close_reader)
    app[REGISTRATION_KEY] = allow_registration
    app[VERIFIER_KEY] = verifier or KeyVerifier(lambda name: kosync.user_hash(pool, name))
    limits = limits or ServerLimits()
    app[LIMITS_KEY] = limits
    app[GUARD_KEY] = guard or limits.login_guard()
    app[AUTHENTICATOR_KEY] = DeviceAuthenticator(pool)
    app.router.add_post("/users/create", create_user)
    app.router.add_get("/users/auth", auth_user)
    app.router.add_put("/syncs/progress", update_progress)
    app.router.add_get("/syncs/progress/{document}", get_progress)
    app.router.add_get("/healthcheck", healthcheck)
    opds.setup(app, pool, opds_options)
    if dav_dir is not None:
        add_webdav(app, dav_dir, pool)
    return app


async def _close_reader(app: web.Application) -> None:
    await app[READER_KEY].close()


# --- running ----------------------------------------------------------------------------


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    allow_registration: bool = False
    watch_inbox: bool = True
    trust_proxy: bool = False


def _start_watcher(
    database: Database, home: Home, settings: Settings, stop: asyncio.Event
) -> asyncio.Task[None]:
    """Start the inbox watcher as a task; ``stop`` is its own event (set on shutdown)."""
    inbox = settings.inbox_dir or home.inbox_dir
    task = asyncio.create_task(
        watch_inbox(database, home, stop_event=stop, inbox_dir=settings.inbox_dir),
        name="inbox-watcher",
    )
    log.info("watching the inbox %s", inbox)
    task.add_done_callback(_report_watcher_end)
    return task


def _report_watcher_end(task: asyncio.Task[Any]) -> None:
    """The watcher stopping on its own is logged; the KoSync server keeps serving."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.warning("inbox watcher stopped: %s: %s", type(error).__name__, error)


async def serve(database: Database, home: Home, settings: Settings, options: ServeOptions) -> None:
    """Run until SIGTERM or SIGINT, then stop cleanly: finish requests, flush writes, close."""
    stop = asyncio.Event()
    watcher_stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    writer = ProgressWriter(database.pool)
    writer.start()
    app = create_app(
        database.pool,
        writer,
        allow_registration=options.allow_registration,
        opds_options=OpdsOptions(
            trust_proxy=options.trust_proxy, cache_dir=home.data_dir / "cache" / "covers"
        ),
        dav_dir=home.data_dir / "dav",
        limits=settings.server,
    )
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=STOP_SECONDS
    )
    await runner.setup()
    watcher: asyncio.Task[Any] | None = None
    try:
        install_bad_request_log()
        site = LimitedSite.with_limits(
            runner, options.host, options.port, settings.server, backlog=1024
        )
        try:
            await site.start()
        except OSError as exc:
            raise ServeError(
                f"cannot listen on {options.host}:{options.port}: {exc.strerror}"
            ) from None
        port = _bound_port(site, options.port)
        log.info(
            "KoSync, OPDS (/opds) and WebDAV (/dav/) listening on http://%s:%d (registration %s)",
            options.host,
            port,
            "allowed" if options.allow_registration else "disabled",
        )
        if options.watch_inbox:
            watcher = _start_watcher(database, home, settings, watcher_stop)
        await stop.wait()
        log.info("stopping: finishing requests and pending writes")
    finally:
        watcher_stop.set()
        if watcher is not None and not watcher.done():
            # Let an import in progress finish; a watcher that will not stop is cancelled.
            _, still_running = await asyncio.wait({watcher}, timeout=10)
            if still_running:
                watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
        await app[IN_FLIGHT_KEY].stop(runner, STOP_SECONDS)
        await runner.cleanup()
        await writer.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    log.info("stopped after %d writes in %d commits", writer.written, writer.batches)


class ServeError(Exception):
    """The server could not start (address in use, bad host)."""


def _bound_port(site: web.TCPSite, fallback: int) -> int:
    server = site._server  # aiohttp keeps the asyncio server here; the only way to see port 0
    sockets = getattr(server, "sockets", None) or []
    for sock in sockets:
        return int(sock.getsockname()[1])
    return fallback
