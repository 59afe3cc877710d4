"""Parse each stylesheet once per process, not once per screen shown.

Textual keeps its parsed CSS per ``Stylesheet`` object, and every time a screen is shown for
the first time (or a widget class first mounts) it re-parses *all* sources into a fresh
``Stylesheet``: with shelver's screens and widgets that is 0.1–0.3 s of tokenizing per first
visit, most of a screen's first opening. The parse of one source depends only on its text,
where it came from, its flags and the CSS variables, so the result is kept here under exactly
those and handed back on every later parse. Parsed rule sets are not changed after parsing
(Textual itself hands the same objects back from its per-stylesheet cache).

``install()`` wraps ``Stylesheet._parse_rules`` (Textual is pinned in pyproject.toml; a test
checks that the wrapper is in place and gives the same rules as a fresh parse).
"""

from __future__ import annotations

from typing import Any

from textual.css.model import RuleSet
from textual.css.stylesheet import Stylesheet

_parsed: dict[tuple[Any, ...], list[RuleSet]] = {}
_parse_uncached = Stylesheet._parse_rules


def _variables_key(stylesheet: Stylesheet) -> tuple[tuple[str, str], ...]:
    """The stylesheet's CSS variables as a hashable key, computed once per stylesheet and
    variables dict (``set_variables`` replaces the dict)."""
    variables = stylesheet._variables
    known = getattr(stylesheet, "_shelver_variables_key", None)
    if known is not None and known[0] is variables:
        return known[1]
    key = tuple(sorted(variables.items()))
    stylesheet._shelver_variables_key = (variables, key)  # type: ignore[attr-defined]
    return key


def _parse_rules_once(
    self: Stylesheet,
    css: str,
    read_from: Any,
    is_default_rules: bool = False,
    tie_breaker: int = 0,
    scope: str = "",
) -> list[RuleSet]:
    key = (css, read_from, is_default_rules, tie_breaker, scope, _variables_key(self))
    rules = _parsed.get(key)
    if rules is None:
        rules = _parse_uncached(self, css, read_from, is_default_rules, tie_breaker, scope)
        _parsed[key] = rules
    return rules


def install() -> None:
    """Route every stylesheet parse in this process through the cache (idempotent)."""
    Stylesheet._parse_rules = _parse_rules_once  # type: ignore[method-assign]


def installed() -> bool:
    return Stylesheet._parse_rules is _parse_rules_once  # type: ignore[comparison-overlap]
