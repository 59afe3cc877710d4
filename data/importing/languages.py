"""Language tags from files (``en-US``, ``eng``, ``ger``, ``English``) as ISO 639-1 codes."""

from __future__ import annotations

import re

# ISO 639-1 code: (ISO 639-2 codes, bibliographic and terminological; English and native names).
_LANGUAGES: dict[str, tuple[str, ...]] = {
    "af": ("afr", "afrikaans"),
    "am": ("amh", "amharic"),
    "ar": ("ara", "arabic", "العربية"),
    "az": ("aze", "azerbaijani"),
    "be": ("bel", "belarusian"),
    "bg": ("bul", "bulgarian", "български"),
    "bn": ("ben", "bengali", "bangla"),
    "bs": ("bos", "bosnian"),
    "ca": ("cat", "catalan", "català"),
    "cs": ("cze", "ces", "czech", "čeština"),
    "cy": ("wel", "cym", "welsh"),
    "da": ("dan", "danish", "dansk"),
    "de": ("ger", "deu", "german", "deutsch"),
    "el": ("gre", "ell", "greek", "ελληνικά"),
    "en": ("eng", "english"),
    "eo": ("epo", "esperanto"),
    "es": ("spa", "spanish", "español", "castellano"),
    "et": ("est", "estonian", "eesti"),
    "eu": ("baq", "eus", "basque", "euskara"),
    "fa": ("per", "fas", "persian", "farsi"),
    "fi": ("fin", "finnish", "suomi"),
    "fr": ("fre", "fra", "french", "français"),
    "ga": ("gle", "irish"),
    "gl": ("glg", "galician"),
    "gu": ("guj", "gujarati"),
    "he": ("heb", "hebrew", "iw", "עברית"),
    "hi": ("hin", "hindi"),
    "hr": ("hrv", "croatian", "hrvatski"),
    "hu": ("hun", "hungarian", "magyar"),
    "hy": ("arm", "hye", "armenian"),
    "id": ("ind", "indonesian", "in"),
    "is": ("ice", "isl", "icelandic", "íslenska"),
    "it": ("ita", "italian", "italiano"),
    "ja": ("jpn", "japanese", "jp", "日本語"),
    "ka": ("geo", "kat", "georgian"),
    "kk": ("kaz", "kazakh"),
    "km": ("khm", "khmer"),
    "kn": ("kan", "kannada"),
    "ko": ("kor", "korean", "한국어"),
    "la": ("lat", "latin", "latina"),
    "lt": ("lit", "lithuanian", "lietuvių"),
    "lv": ("lav", "latvian", "latviešu"),
    "mk": ("mac", "mkd", "macedonian"),
    "ml": ("mal", "malayalam"),
    "mn": ("mon", "mongolian"),
    "mr": ("mar", "marathi"),
    "ms": ("may", "msa", "malay"),
    "mt": ("mlt", "maltese"),
    "my": ("bur", "mya", "burmese"),
    "nb": ("nob", "norwegian bokmål", "bokmål"),
    "ne": ("nep", "nepali"),
    "nl": ("dut", "nld", "dutch", "nederlands", "flemish"),
    "nn": ("nno", "norwegian nynorsk", "nynorsk"),
    "no": ("nor", "norwegian", "norsk"),
    "pa": ("pan", "punjabi"),
    "pl": ("pol", "polish", "polski"),
    "pt": ("por", "portuguese", "português"),
    "ro": ("rum", "ron", "romanian", "română", "mo"),
    "ru": ("rus", "russian", "русский"),
    "sk": ("slo", "slk", "slovak", "slovenčina"),
    "sl": ("slv", "slovenian", "slovene", "slovenščina"),
    "sq": ("alb", "sqi", "albanian"),
    "sr": ("srp", "serbian", "српски"),
    "sv": ("swe", "swedish", "svenska"),
    "sw": ("swa", "swahili"),
    "ta": ("tam", "tamil"),
    "te": ("tel", "telugu"),
    "th": ("tha", "thai", "ไทย"),
    "tl": ("tgl", "tagalog", "filipino", "fil"),
    "tr": ("tur", "turkish", "türkçe"),
    "uk": ("ukr", "ukrainian", "українська"),
    "ur": ("urd", "urdu"),
    "uz": ("uzb", "uzbek"),
    "vi": ("vie", "vietnamese", "tiếng việt"),
    "yi": ("yid", "yiddish", "ji"),
    "zh": ("chi", "zho", "chinese", "中文", "cmn"),
}

_LOOKUP: dict[str, str] = {}
for _code, _aliases in _LANGUAGES.items():
    _LOOKUP[_code] = _code
    for _alias in _aliases:
        _LOOKUP.setdefault(_alias.casefold(), _code)

_SUBTAG = re.compile(r"[-_]")


def normalize_language(value: str | None) -> str | None:
    """The ISO 639-1 code of a language tag or name, or None when it is not recognised."""
    if not value:
        return None
    text = value.strip().casefold()[:100]
    if not text or text in ("und", "mul", "zxx", "unknown"):
        return None
    if text in _LOOKUP:
        return _LOOKUP[text]
    primary = _SUBTAG.split(text, maxsplit=1)[0].strip()
    return _LOOKUP.get(primary)


def first_language(values: list[str]) -> str | None:
    """The first recognised language among several (EPUBs may list more than one)."""
    for value in values:
        code = normalize_language(value)
        if code:
            return code
    return None
