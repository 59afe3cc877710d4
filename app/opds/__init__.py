"""The OPDS catalogue of ``shelver serve`` (under ``/opds``): feeds, search, covers, downloads.

``setup(app, ...)`` registers every route; ``app/server.py`` calls it once. The data comes from
``data.opds`` (pages, groups, files) and ``data.library`` (search); this package builds feeds
(``feeds``), writes them as Atom (``atom``) or OPDS 2 JSON (``opds2``), and sends files and
covers (``files``, ``covers``).
"""

from shelver.app.opds.routes import OpdsOptions, setup

__all__ = ["OpdsOptions", "setup"]
