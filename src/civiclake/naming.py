"""Identifier normalisation: every name that reaches SQL goes through here.

Names become ASCII snake_case, bounded in length, and unique within their set. A name that cannot be
normalised to anything (only punctuation, say) is refused rather than invented, except for column
names, where a positional name (``column_3``) keeps the data reachable.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

from civiclake.errors import IdentifierError

MAX_IDENTIFIER_LENGTH = 63  # PostgreSQL's limit, the tightest of the engines civiclake writes to
_NON_WORD = re.compile(r"[^a-z0-9]+")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def to_snake_case(text: str) -> str:
    """Fold accents, split camelCase, and join words with underscores: ``Code Postal`` -> ``code_postal``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    ascii_text = _CAMEL_BOUNDARY.sub("_", ascii_text)
    return _NON_WORD.sub("_", ascii_text.lower()).strip("_")


def bound_length(name: str, max_length: int = MAX_IDENTIFIER_LENGTH) -> str:
    """Cut a long name, keeping it unique with a short hash of the whole name."""
    if len(name) <= max_length:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: max_length - 9].rstrip('_')}_{digest}"


def normalise_identifier(text: str, *, what: str = "name", max_length: int = MAX_IDENTIFIER_LENGTH) -> str:
    """A safe SQL identifier for ``text``, or IdentifierError naming ``what`` could not be normalised."""
    name = to_snake_case(text)
    if not name:
        raise IdentifierError(f"{what} {text!r} has no letter or digit to build an identifier from")
    if name[0].isdigit():
        name = f"_{name}"
    return bound_length(name, max_length)


def normalise_column_names(originals: Iterable[str]) -> list[str]:
    """Unique snake_case column names, in order; duplicates get ``_2``, ``_3``...

    ``Nom de la gare`` twice gives ``nom_de_la_gare`` and ``nom_de_la_gare_2``; ``Code postal`` and
    ``Code Postal`` give ``code_postal`` and ``code_postal_2``. Leading underscores are dropped, so a
    file's column can never collide with a lineage column (``_source``, ``_row_number``...).
    """
    names: list[str] = []
    taken: set[str] = set()
    for position, original in enumerate(originals, start=1):
        base = to_snake_case(original or "")
        if not base:
            base = f"column_{position}"
        elif base[0].isdigit():
            base = f"col_{base}"
        base = bound_length(base)
        name, suffix = base, 2
        while name in taken:
            name = bound_length(f"{base}_{suffix}")
            suffix += 1
        taken.add(name)
        names.append(name)
    return names
