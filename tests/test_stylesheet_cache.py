"""The process-wide stylesheet parse cache (app/stylesheet_cache.py)."""

from __future__ import annotations

from textual.css.stylesheet import Stylesheet

from shelver.app import stylesheet_cache
from shelver.data.home import Home
from tests.tui_support import make_app

CSS = "Screen { background: $accent; } #books { height: 1fr; color: $text; }"


def parsed_css(variables: dict[str, str]) -> str:
    stylesheet = Stylesheet(variables=variables)
    stylesheet.add_source(CSS, read_from=("test.tcss", ""))
    stylesheet.parse()
    return stylesheet.css


def test_the_app_installs_the_cache(home: Home) -> None:
    make_app(home, "postgresql://unused/none")
    assert stylesheet_cache.installed()


def test_a_cached_parse_equals_a_fresh_one_and_follows_the_variables() -> None:
    stylesheet_cache.install()
    red = {"accent": "red", "text": "white"}
    blue = {"accent": "blue", "text": "white"}
    first = parsed_css(red)
    assert "#FF0000" in first
    # The same source again comes from the cache and is the same rules.
    assert parsed_css(red) == first
    # Other variables are another parse, not the cached one.
    assert "#0000FF" in parsed_css(blue)
    uncached = Stylesheet(variables=red)
    rules = stylesheet_cache._parse_uncached(uncached, CSS, ("test.tcss", ""))
    assert "\n\n".join(rule.css for rule in rules) == first
