"""Names people give things (companies, sectors, tenants): one rule each, applied where they enter.

A name is shown in pages, CSV files and terminals and is looked up again by URL, so it must mean the
same thing everywhere. Company and sector names are normalised (NFKC: a fullwidth "ＭＡＸ" is "MAX",
a ligature "ﬁ" is "fi") and may hold any script, but no control or invisible character: a line break
made a name that every route answered 404 for, and zero-width and bidi characters or terminal escapes
make one name look like another. Tenant names, which operators read in `gaplens keys list` and logs,
are restricted further to a small ASCII set, so no look-alike (a Cyrillic "а") can pass for another
tenant. The errors say which rule a name broke and never repeat the name.
"""

from __future__ import annotations

import re
import unicodedata

# Controls (line breaks, tabs, escapes), format characters (zero-width, bidi overrides and isolates),
# line and paragraph separators, surrogates, private use and unassigned code points.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
CONTROL_RULE = (
    "must not hold control or invisible characters "
    "(line breaks, tabs, zero-width or bidi characters, terminal escapes)"
)
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}")
TENANT_RULE = (
    "a tenant name is 1 to 128 ASCII letters, digits, spaces, '.', '_' or '-', "
    "starting with a letter or digit"
)


def display_name(value: str) -> str:
    """A company or sector name as it is stored and looked up: NFKC, trimmed, no control characters.

    Raises ValueError with the rule (pydantic turns it into a 422 that names the field).
    """
    name = unicodedata.normalize("NFKC", value).strip()
    if any(unicodedata.category(c) in REFUSED_CATEGORIES for c in name):
        raise ValueError(CONTROL_RULE)
    return name


def tenant_name(value: str) -> str:
    """A tenant name: NFKC, trimmed, then only ASCII letters, digits, spaces, '.', '_' and '-'."""
    name = unicodedata.normalize("NFKC", value).strip()
    if not TENANT_NAME.fullmatch(name):
        raise ValueError(TENANT_RULE)
    return name


def printable(value: str) -> str:
    """``value`` safe to print on a terminal: every non-printable or invisible character escaped.

    For names stored before they were checked, which may still hold escapes or bidi overrides.
    """
    return "".join(
        c if c.isprintable() and unicodedata.category(c) not in REFUSED_CATEGORIES else ascii(c)[1:-1]
        for c in value
    )
