"""Where an incremental REST extraction stands, and how the next one avoids loading a record twice.

The cursor is the largest value of the cursor field seen (``sys_updated_on``) plus the records seen at
exactly that value, each as ``key -> fingerprint``. The next run asks for ``cursor >= value`` (never
``>``: a record changed in the same second as the last one extracted would be lost) and drops the
records of that boundary second it already holds, unless their content changed. So a rerun with no
change finds nothing, and a change made in the boundary second is still picked up.

Saved as JSON text in the sync state: ``{"value": "2026-03-04 10:12:55", "seen": {"<sys_id>": "<fp>"}}``.
When a single second holds more than ``MAX_BOUNDARY_RECORDS`` records (a mass update), only the value
is kept: the next run then loads that second again once — duplicates that silver deduplicates on
``(sys_id, sys_updated_on)`` — rather than the state growing without bound.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from civiclake.errors import SourceError

MAX_BOUNDARY_RECORDS = 20_000


def fingerprint(line: bytes) -> str:
    """A short digest of a record as written: what tells a changed record from one already loaded."""
    return hashlib.blake2b(line, digest_size=8).hexdigest()


@dataclass
class CursorPosition:
    value: str | None = None  # as the API writes it; None: from the beginning
    seen: dict[str, str] = field(default_factory=dict)  # key -> fingerprint of records at ``value``

    @classmethod
    def load(cls, saved: str | None, start: str | None) -> CursorPosition:
        """The saved cursor of the last success; without one, the configured start (or the beginning)."""
        if saved is None:
            return cls(start)
        if not saved.lstrip().startswith("{"):
            return cls(saved)  # a bare value, as an operator may set it by hand
        try:
            data = json.loads(saved)
            value, seen = data["value"], data.get("seen") or {}
            if not isinstance(value, str | None) or not isinstance(seen, dict):
                raise TypeError("value must be text, seen a mapping")
        except (ValueError, KeyError, TypeError) as error:
            raise SourceError(
                f"the saved cursor is unreadable ({error}); run `civiclake sync --source rest --full-refresh`"
            ) from None
        return cls(value, {str(key): str(digest) for key, digest in seen.items()})

    def dumps(self) -> str | None:
        if self.value is None:
            return None
        seen = self.seen if len(self.seen) <= MAX_BOUNDARY_RECORDS else {}
        return json.dumps({"value": self.value, "seen": dict(sorted(seen.items()))}, separators=(",", ":"))


class CursorTracker:
    """Follows the records of one extraction, in the order the API gives them.

    ``accept`` says whether a record is new (to be written) and moves the position; ``group_value``
    and ``group_returned`` say where the next page starts: at ``cursor >= group_value``, skipping the
    ``group_returned`` records of that value the API already returned in this run.
    """

    def __init__(self, position: CursorPosition, time_format: str, *, ordered: bool) -> None:
        self.position = position
        self.time_format = time_format
        self.ordered = ordered  # the API sorts by the cursor field: a smaller value means a broken order
        self.group_returned = 0
        self._moment = self.parse(position.value) if position.value is not None else None

    @property
    def group_value(self) -> str | None:
        return self.position.value

    def parse(self, value: object) -> datetime | None:
        if not isinstance(value, str):
            return None
        try:
            return datetime.strptime(value, self.time_format)
        except ValueError:
            return None

    def accept(self, value: object, key: str, line: bytes) -> bool:
        """True when the record is to be written; False when this cursor already holds it as it is."""
        moment = self.parse(value)
        if moment is None:
            # No usable cursor value: written (nothing is lost) but it cannot move the cursor. Such records
            # sort first when no filter applies, so they count in the first group.
            if self._moment is None:
                self.group_returned += 1
            return True
        digest = fingerprint(line)
        if self._moment is None or moment > self._moment:
            self._moment = moment
            self.position = CursorPosition(str(value), {key: digest})
            self.group_returned = 1
            return True
        if moment == self._moment:
            self.group_returned += 1
            if self.position.seen.get(key) == digest:
                return False
            self.position.seen[key] = digest
            return True
        if self.ordered:
            raise SourceError(
                f"records are not sorted by the cursor field: {value!r} (key {key}) came after "
                f"{self.position.value!r}; offset pagination needs that order (or use pagination: link)"
            )
        return True
