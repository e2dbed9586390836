"""One error hierarchy for civiclake.

Every error says what failed and why. Two marker classes tell the retry logic what to do:
``TransientError`` (an HTTP 429/5xx, a timeout, a reset connection: worth another try) and
``TerminalError`` (a broken file, a bad configuration: retrying cannot help).
"""

from __future__ import annotations

from civiclake.redaction import redact_url


class CivicLakeError(Exception):
    """Base class of every error civiclake raises on purpose."""


class TransientError(CivicLakeError):
    """A failure that may go away if the same call is made again later."""


class TerminalError(CivicLakeError):
    """A failure that the same call will meet again: do not retry."""


class ConfigurationError(TerminalError):
    """Settings or the dataset registry are wrong; the message names the key or variable to fix."""


class IdentifierError(TerminalError):
    """A name cannot be turned into a safe SQL identifier."""


class FormatError(TerminalError):
    """A file cannot be read as the format it claims or seems to be."""


class ArchiveError(FormatError):
    """An archive is unsafe (path outside its folder, expands past its limit) or broken."""


class SourceError(CivicLakeError):
    """A source answered with something unusable (404, 410, malformed JSON...)."""


class NotFoundError(SourceError, TerminalError):
    """The source says the dataset or resource does not exist."""


class GoneError(SourceError, TerminalError):
    """The source says the dataset was deleted (HTTP 410)."""


class HttpStatusError(SourceError):
    """An HTTP answer with an error status that is neither 404 nor 410."""

    def __init__(self, url: str, status: int, reason: str = "") -> None:
        self.url = redact_url(url)
        self.status = status
        super().__init__(f"HTTP {status} from {self.url}{': ' + reason if reason else ''}")


class TransientHttpError(HttpStatusError, TransientError):
    """HTTP 429 or 5xx: retried with backoff, honouring Retry-After."""

    def __init__(self, url: str, status: int, reason: str = "", retry_after: float | None = None) -> None:
        super().__init__(url, status, reason)
        self.retry_after = retry_after


class TerminalHttpError(HttpStatusError, TerminalError):
    """HTTP 4xx other than 404/410/429: the request itself is wrong."""


class ChecksumMismatchError(TerminalError):
    """The downloaded bytes do not match the checksum the catalogue publishes."""


class DownloadDeadlineError(SourceError, TerminalError):
    """A download took longer than its overall deadline (a server that sends bytes, but far too slowly)."""


class TooLargeError(TerminalError):
    """A resource is larger than the size limit set for it."""


class SchemaConflictError(TerminalError):
    """A new extraction's schema cannot be reconciled with its table."""
