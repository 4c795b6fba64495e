"""Interface languages: English text is the key, each other language a file that translates it.

The web page is written in English; ``locales/nl.yaml`` maps each English string to Dutch (the
gettext convention, without a compile step). A string with no translation shows in English, and a
test fails when a template uses a string that a language file lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from fastapi import Request

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = ("en", "nl")
DEFAULT_LANGUAGE = "en"
COOKIE = "gaplens_lang"

Translate = Callable[..., str]


@lru_cache(maxsize=len(LANGUAGES))
def messages(language: str) -> dict[str, str]:
    """The language's translations, English string -> translated string (empty for English)."""
    if language == DEFAULT_LANGUAGE:
        return {}
    raw = yaml.safe_load((LOCALES_DIR / f"{language}.yaml").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in raw["messages"].items()}


def translator(language: str) -> Translate:
    """``t("{n} pages", n=3)`` in the given language; placeholders are filled after translating."""
    table = messages(language)

    def translate(text: str, **values: Any) -> str:
        translated = table.get(text, text)
        return translated.format(**values) if values else translated

    return translate


def request_language(request: Request) -> str:
    """The interface language: ``?lang=``, else the cookie a switch set, else the browser's preference."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE
