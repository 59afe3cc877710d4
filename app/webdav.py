"""``/dav/``: the small WebDAV folder KOReader's cloud sync uses for its reading statistics.

What KOReader sends (plugins/cloudstorage.koplugin/providers/webdav.lua, and
../shared/docs/protocols.md): Basic credentials on every request; ``PROPFIND`` with
``Depth: 1`` to list a folder (read back with loose patterns); ``GET`` of
``statistics.sqlite3`` (404 on the first sync), then ``PUT`` of the merged file with
``If-Match`` set to the ETag it downloaded; 412 makes it download and merge again. It may also
``MKCOL`` and ``DELETE``. Nothing else is needed, so nothing else (LOCK, COPY, MOVE, PROPPATCH)
is offered.

Each ``kosync`` login sees only its own folder (``data.dav_folder``). After a ``PUT`` of a
``statistics.sqlite3`` the file is handed to the statistics import, which runs in the
background so the device is answered at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import asyncpg
from aiohttp import web
from lxml import etree

from shelver.app.http_auth import require_basic
from shelver.app.http_limits import limits_of
from shelver.data.dav_folder import (
    MAX_FILE_BYTES,
    DavFolder,
    DavPathError,
    Entry,
    parse_path,
    write_all,
)
from shelver.data.statistics_file import STATISTICS_FILE_NAME
from shelver.data.statistics_ingest import IngestQueue

log = logging.getLogger("shelver.serve.dav")

PREFIX = "/dav"
ALLOWED = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, MKCOL"
MAX_PROPFIND_BODY = 64 * 1024
CHUNK = 1 << 20
DAV_NS = "DAV:"
LIVE_PROPERTIES = (
    "displayname",
    "resourcetype",
    "getcontentlength",
    "getcontenttype",
    "getlastmodified",
    "getetag",
)

# Told about every statistics file stored: (login, path on disk).
StoredHook = Callable[[str, Path], None]
INGEST_KEY = web.AppKey("statistics_ingest", IngestQueue)


@dataclass
class DavService:
    dav_dir: Path
    on_statistics: StoredHook | None = None
    replacing: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while a PUT checks its precondition and renames, so two devices cannot both win."""


DAV_KEY = web.AppKey("dav", DavService)


def add_webdav(app: web.Application, dav_dir: Path, pool: asyncpg.Pool | None = None) -> None:
    """Serve ``/dav/`` from ``dav_dir`` (one sub-folder per login); with a pool, every
    ``statistics.sqlite3`` stored is imported in the background."""
    on_statistics: StoredHook | None = None
    if pool is not None:
        queue = IngestQueue(pool)
        app[INGEST_KEY] = queue
        on_statistics = queue.submit

        async def finish_imports(_app: web.Application) -> None:
            await queue.close()

        app.on_cleanup.append(finish_imports)
    app[DAV_KEY] = DavService(dav_dir, on_statistics)
    app.router.add_route("*", PREFIX, handle)
    app.router.add_route("*", PREFIX + "/{tail:.*}", handle)


def _text(status: int, message: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=message + "\n", headers=headers)


def _unread(response: web.Response) -> web.Response:
    """Close the connection after ``response``: the request's body was not read, and
    draining up to 512 MB only to keep the connection is not worth it."""
    response.force_close()
    return response


async def handle(request: web.Request) -> web.StreamResponse:
    service = request.app[DAV_KEY]
    if request.method == "OPTIONS":
        return web.Response(
            status=200, headers={"DAV": "1", "Allow": ALLOWED, "MS-Author-Via": "DAV"}
        )
    # A kosync login (KOReader's cloud sync has one login per server); 401 otherwise.
    login = (await require_basic(request, services=("kosync",), allow_api_keys=False)).name
    handler = _METHODS.get(request.method)
    if handler is None:
        return _text(405, "method not allowed", Allow=ALLOWED)
    raw = request.rel_url.raw_path[len(PREFIX) :]
    try:
        parts = parse_path(raw)
        folder = await asyncio.to_thread(DavFolder.for_login, service.dav_dir, login)
        return await handler(request, service, folder, login, parts)
    except UploadTooSlow:
        return _unread(_text(408, "the request body arrived too slowly"))
    except DavPathError as exc:
        return _text(403, f"forbidden: {exc}")
    except PermissionError:
        return _text(403, "forbidden")
    except OSError as exc:
        log.error("%s %s failed: %s", request.method, request.rel_url.raw_path, exc.strerror)
        return _text(500, "the file could not be stored or read")


# --- reading --------------------------------------------------------------------------------


def _href(entry_parts: tuple[str, ...], is_dir: bool) -> str:
    path = "/".join(quote(part, safe="") for part in entry_parts)
    href = f"{PREFIX}/{path}" if path else f"{PREFIX}/"
    return href + "/" if is_dir and path else href


def _file_headers(entry: Entry) -> dict[str, str]:
    assert entry.etag is not None
    return {
        "ETag": entry.etag,
        "Last-Modified": entry.last_modified,
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "none",
    }


async def get_file(
    request: web.Request, service: DavService, folder: DavFolder, login: str, parts
) -> web.StreamResponse:
    opened = await asyncio.to_thread(folder.open_file, parts)
    if opened is None:
        entry = await asyncio.to_thread(folder.entry, parts)
        if entry is not None and entry.is_dir:
            return _text(405, "a folder cannot be downloaded; list it with PROPFIND")
        return _text(404, "not found")
    fd, entry = opened
    try:
        headers = _file_headers(entry)
        if _matches(request.headers.get("If-None-Match"), entry.etag):
            return web.Response(status=304, headers=headers)
        response = web.StreamResponse(status=200, headers=headers)
        response.content_length = entry.size
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        while chunk := await asyncio.to_thread(os.read, fd, CHUNK):
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        os.close(fd)


def _propfind_request(body: bytes) -> tuple[str, list[tuple[str, str]]]:
    """What a PROPFIND body asks for: ``allprop``, ``propname`` or ``prop`` with the
    (namespace, name) pairs; ValueError when it is not well-formed."""
    if not body.strip():
        return "allprop", []
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"malformed XML: {exc}") from None
    if etree.QName(root).localname != "propfind":
        raise ValueError("the body is not a DAV:propfind")
    for child in root:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child)
        if name.localname in ("allprop", "propname"):
            return name.localname, []
        if name.localname == "prop":
            wanted = [
                (etree.QName(p).namespace or "", etree.QName(p).localname)
                for p in child
                if isinstance(p.tag, str)
            ]
            return "prop", wanted
    return "allprop", []


def _live_values(entry: Entry) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "displayname": entry.parts[-1] if entry.parts else "",
        "resourcetype": "collection" if entry.is_dir else "",
        "getlastmodified": entry.last_modified,
    }
    if not entry.is_dir:
        values["getcontentlength"] = str(entry.size)
        values["getcontenttype"] = "application/octet-stream"
        values["getetag"] = entry.etag
    return values


def _d(name: str) -> str:
    return f"{{{DAV_NS}}}{name}"


def _add_response(
    multistatus: etree._Element, entry: Entry, mode: str, wanted: list[tuple[str, str]]
) -> None:
    response = etree.SubElement(multistatus, _d("response"))
    etree.SubElement(response, _d("href")).text = _href(entry.parts, entry.is_dir)
    values = _live_values(entry)
    found: list[tuple[str, str]] = []
    missing: list[tuple[str, str]] = []
    if mode == "prop":
        for namespace, name in wanted:
            target = found if namespace == DAV_NS and name in values else missing
            target.append((namespace, name))
    else:
        found = [(DAV_NS, name) for name in LIVE_PROPERTIES if name in values]
    for props, status in ((found, "HTTP/1.1 200 OK"), (missing, "HTTP/1.1 404 Not Found")):
        if not props:
            continue
        propstat = etree.SubElement(response, _d("propstat"))
        prop = etree.SubElement(propstat, _d("prop"))
        for namespace, name in props:
            element = etree.SubElement(prop, f"{{{namespace}}}{name}" if namespace else name)
            if mode == "propname" or status.endswith("Not Found"):
                continue
            if name == "resourcetype":
                if values[name]:
                    etree.SubElement(element, _d("collection"))
            else:
                element.text = values[name]
        etree.SubElement(propstat, _d("status")).text = status


async def propfind(
    request: web.Request, service: DavService, folder: DavFolder, login: str, parts
) -> web.StreamResponse:
    depth = request.headers.get("Depth", "infinity").strip().lower()
    if depth not in ("0", "1"):
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<d:error xmlns:d="DAV:"><d:propfind-finite-depth/></d:error>\n'
        )
        return web.Response(status=403, body=body, content_type="application/xml")
    length = request.content_length
    if length is not None and length > MAX_PROPFIND_BODY:
        return _text(413, "the PROPFIND body is too large")
    body = await _small_body(request, MAX_PROPFIND_BODY)
    if body is None:
        return _unread(_text(413, "the PROPFIND body is too large"))
    try:
        mode, wanted = _propfind_request(body)
    except ValueError as exc:
        return _text(400, str(exc))
    entry = await asyncio.to_thread(folder.entry, parts)
    if entry is None:
        return _text(404, "not found")
    entries = [entry]
    if entry.is_dir and depth == "1":
        entries += await asyncio.to_thread(folder.children, parts)
    multistatus = etree.Element(_d("multistatus"), nsmap={"d": DAV_NS})
    for item in entries:
        _add_response(multistatus, item, mode, wanted)
    xml = etree.tostring(multistatus, xml_declaration=True, encoding="utf-8")
    return web.Response(
        status=207, body=xml, headers={"Content-Type": 'application/xml; charset="utf-8"'}
    )


# --- writing --------------------------------------------------------------------------------


def _matches(header: str | None, etag: str | None) -> bool:
    """Whether an If-Match / If-None-Match list names ``etag`` (strong comparison: a weak
    ``W/`` tag never matches)."""
    if header is None or etag is None:
        return False
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or etag in tags


def _precondition_failed(request: web.Request, current: Entry | None) -> bool:
    if_match = request.headers.get("If-Match")
    if if_match is not None and (current is None or not _matches(if_match, current.etag)):
        return True
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is None or current is None:
        return False
    return if_none_match.strip() == "*" or _matches(if_none_match, current.etag)


class UploadTooSlow(Exception):
    """An upload stalled, or crawled below the minimum rate: it is cut off (408)."""


async def _receive(request: web.Request, fd: int) -> int | None:
    """Stream the body into ``fd``; the size, or None when it grew past the limit.

    A file of up to 512 MB takes what it needs over a slow link, but a client that stops
    sending (``upload_stall_seconds``), or drips so slowly that it stays under
    ``upload_min_bytes_per_second`` on average once that first stall time has passed, is cut
    off with :class:`UploadTooSlow`: a drip-feed cannot hold a connection and a temporary file.
    """
    limits = limits_of(request)
    loop = asyncio.get_running_loop()
    started = loop.time()
    size = 0
    pending = bytearray()
    while True:
        try:
            async with asyncio.timeout(limits.upload_stall_seconds):
                chunk = await request.content.read(CHUNK)
        except TimeoutError:
            raise UploadTooSlow from None
        if chunk:
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                return None
            pending += chunk
            late = loop.time() - started - limits.upload_stall_seconds
            if late > 0 and size < limits.upload_min_bytes_per_second * late:
                raise UploadTooSlow
        if len(pending) >= CHUNK or (not chunk and pending):
            await asyncio.to_thread(write_all, fd, bytes(pending))
            pending.clear()
        if not chunk:
            break
    await asyncio.to_thread(os.fsync, fd)
    return size


async def _small_body(request: web.Request, limit: int) -> bytes | None:
    """A whole small body (a PROPFIND request, an empty MKCOL), within the time limit of small
    bodies; None when it is longer than ``limit``. Raises :class:`UploadTooSlow`."""
    body = bytearray()
    try:
        async with asyncio.timeout(limits_of(request).request_body_seconds):
            while chunk := await request.content.read(limit + 1 - len(body)):
                body += chunk
                if len(body) > limit:
                    return None
    except TimeoutError:
        raise UploadTooSlow from None
    return bytes(body)


async def put_file(
    request: web.Request, service: DavService, folder: DavFolder, login: str, parts
) -> web.StreamResponse:
    if not parts:
        return _text(405, "the folder itself cannot be replaced", Allow=ALLOWED)
    length = request.content_length
    if length is not None and length > MAX_FILE_BYTES:
        return _unread(_text(413, f"files are limited to {MAX_FILE_BYTES // (1024 * 1024)} MB"))
    current = await asyncio.to_thread(folder.entry, parts)
    if current is not None and current.is_dir:
        return _unread(_text(405, "a folder cannot be replaced by a file", Allow=ALLOWED))
    if _precondition_failed(request, current):
        return _unread(_text(412, "the file changed since you read it"))
    try:
        fd, temporary = await asyncio.to_thread(folder.temporary_file, parts)
    except (FileNotFoundError, NotADirectoryError):
        return _unread(_text(409, "the parent folder does not exist"))
    try:
        try:
            size = await _receive(request, fd)
        finally:
            os.close(fd)
        if size is None:
            return _unread(_text(413, f"files are limited to {MAX_FILE_BYTES // (1024 * 1024)} MB"))
        if length is not None and size != length:
            return _text(400, "the body ended before Content-Length")
        async with service.replacing:
            # Checked again under the lock: another device may have written meanwhile.
            current = await asyncio.to_thread(folder.entry, parts)
            if _precondition_failed(request, current):
                return _text(412, "the file changed since you read it")
            replaced = await asyncio.to_thread(folder.replace, parts, temporary)
            stored = await asyncio.to_thread(folder.entry, parts)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    headers = {"ETag": stored.etag} if stored is not None and stored.etag else {}
    if parts[-1] == STATISTICS_FILE_NAME and service.on_statistics is not None:
        service.on_statistics(login, folder.locate(parts))
    if replaced:
        return web.Response(status=204, headers=headers)
    return _text(201, "created", **headers)


async def make_folder(
    request: web.Request, service: DavService, folder: DavFolder, login: str, parts
) -> web.StreamResponse:
    if await _small_body(request, 0) is None:
        return _unread(_text(415, "MKCOL takes no body"))
    if not parts or await asyncio.to_thread(folder.entry, parts) is not None:
        return _text(405, "it exists already", Allow=ALLOWED)
    try:
        await asyncio.to_thread(folder.make_folder, parts)
    except (FileNotFoundError, NotADirectoryError):
        return _text(409, "the parent folder does not exist")
    return _text(201, "created")


async def delete(
    request: web.Request, service: DavService, folder: DavFolder, login: str, parts
) -> web.StreamResponse:
    if not parts:
        return _text(403, "the folder itself cannot be deleted")
    if await asyncio.to_thread(folder.entry, parts) is None:
        return _text(404, "not found")
    async with service.replacing:
        await asyncio.to_thread(folder.delete, parts)
    return web.Response(status=204)


_METHODS = {
    "GET": get_file,
    "HEAD": get_file,
    "PUT": put_file,
    "PROPFIND": propfind,
    "MKCOL": make_folder,
    "DELETE": delete,
}
