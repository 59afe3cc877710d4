"""Logins and service settings in ``service_credentials`` (secrets never leave as plain text)."""

from __future__ import annotations

from shelver.data.books import Executor
from shelver.data.models import ServiceCredential
from shelver.data.queries import query


async def list_all(db: Executor) -> list[ServiceCredential]:
    return [ServiceCredential.from_record(r) for r in await db.fetch(query("list_credentials"))]
