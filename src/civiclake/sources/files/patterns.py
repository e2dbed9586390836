"""Which dataset and entity a landed file belongs to, from the ``files.patterns`` settings.

A pattern is a file name with ``*`` (any run of characters within a name) and an optional ``{entity}``
placeholder: ``olist_{entity}_dataset.csv`` sends ``batch=0003/olist_orders_dataset.csv`` to dataset
``olist``, entity ``orders``. Patterns without a ``/`` look at the file name only, so the folders a drop
is organised in (``batch=0003/``) do not matter; a pattern with a ``/`` is matched against the whole
path relative to the landing root. The first matching pattern wins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from posixpath import basename

from civiclake.config import FilesPattern
from civiclake.errors import ConfigurationError

_PLACEHOLDER = "{entity}"
_SETTING = "files.patterns (CIVICLAKE__FILES__PATTERNS)"


@dataclass(frozen=True)
class PatternMatch:
    dataset: str
    entity: str


@dataclass(frozen=True)
class _Compiled:
    regex: re.Pattern[str]
    on_path: bool
    dataset: str
    entity: str | None


class FilePatterns:
    def __init__(self, patterns: Sequence[FilesPattern]) -> None:
        if not patterns:
            raise ConfigurationError(f"{_SETTING} is empty: no landed file could ever be loaded")
        self._compiled = [_compile(pattern) for pattern in patterns]

    @property
    def datasets(self) -> list[str]:
        """Every dataset a pattern names, in the order of the patterns."""
        return list(dict.fromkeys(compiled.dataset for compiled in self._compiled))

    def match(self, relative_path: str) -> PatternMatch | None:
        for compiled in self._compiled:
            found = compiled.regex.fullmatch(relative_path if compiled.on_path else basename(relative_path))
            if found:
                entity = compiled.entity or found.group("entity")
                return PatternMatch(compiled.dataset, entity)
        return None


def _compile(pattern: FilesPattern) -> _Compiled:
    text = pattern.match
    placeholders = text.count(_PLACEHOLDER)
    if placeholders > 1:
        raise ConfigurationError(f"{_SETTING}: {text!r} has {_PLACEHOLDER} more than once")
    if placeholders == 0 and not pattern.entity:
        raise ConfigurationError(f"{_SETTING}: {text!r} needs an {_PLACEHOLDER} placeholder or an `entity`")
    if placeholders == 1 and pattern.entity:
        raise ConfigurationError(f"{_SETTING}: {text!r} has both an {_PLACEHOLDER} placeholder and an `entity`")
    if not pattern.dataset.strip():
        raise ConfigurationError(f"{_SETTING}: {text!r} has an empty `dataset`")
    regex = ""
    for piece in re.split(r"(\{entity\}|\*)", text):
        if piece == _PLACEHOLDER:
            # Non-greedy and without separators: the entity is one name, never a folder path.
            regex += r"(?P<entity>[^/]+?)"
        elif piece == "*":
            regex += r"[^/]*"
        else:
            regex += re.escape(piece)
    return _Compiled(re.compile(regex), "/" in text, pattern.dataset, pattern.entity)
