"""shelver's data layer: PostgreSQL through asyncpg, raw SQL from `sql/`, pydantic models out.

Nothing in this package may import Textual or the UI packages (`app`, `screens`, `widgets`).
"""
