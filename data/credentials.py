"""Logins and service settings in ``service_credentials`` (secrets never leave as plain text)."""

from __future__ import annotations

from data.books import Executor
from data.models import ServiceCredential
from data.queries import query


async def list_all(db: Executor) -> list[ServiceCredential]:
    return [ServiceCredential.from_record(r) for r in await db.fetch(query("list_credentials"))]
