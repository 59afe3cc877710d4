"""Why a file was not imported."""

from __future__ import annotations


class Refused(Exception):
    """A file that cannot be imported; the message is one line a person can act on."""

    def __init__(self, reason: str, *, drm: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.drm = drm
