"""Bringing files into the Inbox: hashing, format detection, metadata, duplicates, the pipeline.

The UI and the command line call `import_paths` and `reject_inbox_book`; everything else here is
the machinery behind them. The public names load lazily so that worker processes, which only
need `data.importing.examine`, do not pay for asyncpg and the pipeline.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ImportReport",
    "ImportedItem",
    "RefusedItem",
    "RejectResult",
    "SkippedItem",
    "import_paths",
    "reject_inbox_book",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from shelver.data.importing import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
