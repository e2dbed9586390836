"""HTTP with retries: the one way civiclake talks to web APIs and downloads files.

Transient failures (429, 5xx, timeouts, reset connections) are retried with exponential backoff and
full jitter, waiting at least what ``Retry-After`` asks. The client may be shared by threads: requests to one host
are limited in number at once and spaced in time (``HostLimits``), whichever thread makes them. Downloads stream
to disk in blocks, hashed and written on other threads as they go (``StreamDigests``), so memory stays flat
whatever the file size.
"""

from __future__ import annotations

import contextlib
import email.utils
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from civiclake.config import HttpSettings
from civiclake.errors import (
    DownloadDeadlineError,
    GoneError,
    NotFoundError,
    SourceError,
    TerminalHttpError,
    TooLargeError,
    TransientError,
    TransientHttpError,
)
from civiclake.sources.digests import StreamDigests

_T = TypeVar("_T")

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class Download:
    """What a finished download looked like: enough to write the raw manifest."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    size: int
    sha256: str
    digests: dict[str, str] = field(default_factory=dict)  # the catalogue's algorithm -> hex digest
    # Incremental fetches only: where the next run starts, and how many records this one found
    # (0 means nothing changed at the source: nothing is kept or loaded).
    cursor: str | None = None
    records: int | None = None


@dataclass(frozen=True)
class JsonResponse:
    """A parsed JSON answer with what paginated APIs put beside it (``Link``, ``X-Total-Count``)."""

    url: str
    status: int
    headers: httpx.Headers
    body: Any
    size: int


def download_deadline_seconds(settings: HttpSettings, size: int | None) -> float:
    """How long a download of ``size`` bytes (None: unknown) may take in all, retries included."""
    scaled = (size or 0) / settings.download_min_bytes_per_second
    return max(settings.download_deadline_floor_seconds, scaled)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HostLimits:
    """Per host: at most ``connections`` requests open at once, started at least ``1 / rate`` seconds apart.

    A public API asks its clients to be gentle whatever their parallelism: the limits hold across the threads
    sharing one client. ``rate`` 0 spaces nothing.
    """

    def __init__(self, connections: int, rate: float) -> None:
        self.connections = connections
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextlib.contextmanager
    def hold(self, url: str) -> Iterator[None]:
        host = urlsplit(url).netloc.lower()
        with self._lock:
            slots = self._slots.setdefault(host, threading.BoundedSemaphore(self.connections))
        with slots:
            if self.interval:
                with self._lock:
                    now = time.monotonic()
                    start = max(now, self._next_start.get(host, now))
                    self._next_start[host] = start + self.interval
                if start > now:
                    time.sleep(start - now)
            yield


class HttpClient:
    """A retrying HTTP client; ``sleep`` and ``jitter`` are injectable so tests need not wait."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._jitter = jitter
        self.host_limits = HostLimits(settings.max_connections_per_host, settings.max_requests_per_second_per_host)
        self._client = httpx.Client(
            follow_redirects=True,
            timeout=httpx.Timeout(settings.read_timeout_seconds, connect=settings.connect_timeout_seconds),
            headers={"User-Agent": settings.user_agent},
            auth=auth,  # credentials go in headers, never in URLs that errors and manifests show
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> Any:
        return self.get_json_response(url, params).body

    def get_json_response(self, url: str, params: dict[str, Any] | None = None) -> JsonResponse:
        def attempt() -> JsonResponse:
            with self.host_limits.hold(url):
                response = self._client.get(url, params=params)
            _raise_for_status(response)
            try:
                body = response.json()
            except ValueError as error:
                raise SourceError(f"{response.url} answered with malformed JSON: {error}") from None
            return JsonResponse(str(response.url), response.status_code, response.headers, body, len(response.content))

        return self._with_retries(url, attempt)

    def download(
        self,
        url: str,
        destination: Path,
        *,
        max_bytes: int | None = None,
        checksum_algorithms: tuple[str, ...] = (),
        on_progress: ProgressCallback | None = None,
        expected_bytes: int | None = None,
    ) -> Download:
        """Stream ``url`` into ``destination``; a retried attempt starts the file again from zero.

        The whole download, retries included, must end within ``download_deadline_seconds`` of the size the
        catalogue announced (``expected_bytes``) or, failing that, the server's Content-Length; past it the
        partial file is removed and DownloadDeadlineError names the URL.
        """
        started = time.monotonic()
        deadline = started + download_deadline_seconds(self.settings, expected_bytes)

        def check_deadline(received: int) -> None:
            if time.monotonic() > deadline:
                raise DownloadDeadlineError(
                    f"{url}: download timed out, {received} bytes received in {time.monotonic() - started:.0f} s, "
                    f"past its deadline of {deadline - started:.0f} s "
                    "(http.download_deadline_floor_seconds, http.download_min_bytes_per_second)"
                )

        def attempt() -> Download:
            nonlocal deadline
            check_deadline(0)  # a retry after the deadline would only start over
            with self.host_limits.hold(url), self._client.stream("GET", url) as response:
                _raise_for_status(response)
                declared = response.headers.get("content-length")
                if max_bytes is not None and declared and declared.isdigit() and int(declared) > max_bytes:
                    raise TooLargeError(f"{url} is {int(declared)} bytes, over the limit of {max_bytes}")
                if expected_bytes is None and declared and declared.isdigit():
                    deadline = started + download_deadline_seconds(self.settings, int(declared))
                with destination.open("wb") as sink, StreamDigests(checksum_algorithms, copy_to=sink) as digests:
                    # Chunks as the socket gives them: re-chunking them in Python cost more than the hashing.
                    for chunk in response.iter_bytes():
                        digests.update(chunk)
                        if max_bytes is not None and digests.size > max_bytes:
                            raise TooLargeError(f"{url} grew past the limit of {max_bytes} bytes while downloading")
                        check_deadline(digests.size)
                        if on_progress:
                            on_progress(len(chunk))
                    found = digests.hexdigests()
                return Download(
                    url=url,
                    final_url=str(response.url),
                    status=response.status_code,
                    headers=dict(response.headers),
                    size=digests.size,
                    sha256=found.pop("sha256"),
                    digests=found,
                )

        try:
            return self._with_retries(url, attempt)
        except DownloadDeadlineError:
            destination.unlink(missing_ok=True)  # a partial file must not pass for the resource
            raise

    def _with_retries(self, url: str, attempt: Callable[[], _T]) -> _T:
        settings = self.settings
        for number in range(1, settings.max_attempts + 1):
            try:
                return attempt()
            except (TransientError, httpx.TimeoutException, httpx.TransportError) as error:
                if number == settings.max_attempts:
                    raise _as_transient(url, error, number) from error
                self._sleep(self._backoff(number, getattr(error, "retry_after", None)))
        raise AssertionError("unreachable: the loop returns or raises")

    def _backoff(self, attempt_number: int, retry_after: float | None) -> float:
        ceiling = min(
            self.settings.backoff_max_seconds, self.settings.backoff_initial_seconds * 2 ** (attempt_number - 1)
        )
        # Full jitter spreads clients that failed together; Retry-After is a floor the server asked for.
        delay = ceiling * self._jitter()
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.settings.backoff_max_seconds))
        return delay


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    url = str(response.request.url)
    reason = _error_message(response)
    if status == 404:
        raise NotFoundError(f"{url} was not found (HTTP 404){': ' + reason if reason else ''}")
    if status == 410:
        raise GoneError(f"{url} is gone (HTTP 410){': ' + reason if reason else ''}")
    if status == 429 or status >= 500:
        raise TransientHttpError(url, status, reason, parse_retry_after(response.headers.get("retry-after")))
    raise TerminalHttpError(url, status, reason)


def _error_message(response: httpx.Response) -> str:
    """The API's own message when it gives one (``{"message": ...}``), never a whole HTML page."""
    try:
        response.read()
        body = response.json()
    except (ValueError, httpx.StreamError):
        return ""
    if not isinstance(body, dict):
        return ""
    nested = body.get("error")  # ServiceNow-style APIs: {"error": {"message": ..., "detail": ...}}
    if not body.get("message") and isinstance(nested, dict) and nested.get("message"):
        return str(nested["message"])
    return str(body.get("message", ""))


def _as_transient(url: str, error: Exception, attempts: int) -> TransientError:
    if isinstance(error, TransientHttpError):
        detail = f"HTTP {error.status}"
    elif isinstance(error, httpx.TimeoutException):
        detail = "timed out"
    else:
        detail = f"{type(error).__name__}: {error}"
    return TransientError(f"{url}: {detail}, still failing after {attempts} attempts")


def in_background(function: Callable[..., _T], *args: Any) -> Future[_T]:
    """``function(*args)`` on a daemon thread of its own, its result or error in the future returned.

    Not an executor: its threads are joined when the interpreter exits, so a request held by a slow server would
    keep an interrupted process (Ctrl-C) alive until the server answers. Callers bound how many they start.
    """
    future: Future[_T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(function(*args))
        except BaseException as error:  # handed to whoever reads the future
            future.set_exception(error)

    threading.Thread(target=run, name=f"civiclake-{getattr(function, '__name__', 'task')}", daemon=True).start()
    return future


def iter_pages(client: HttpClient, url: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Walk a udata page envelope (``data``, ``next_page``) and yield every item."""
    next_url: str | None = url
    next_params = params
    while next_url:
        page = client.get_json(next_url, next_params)
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise SourceError(f"{next_url} did not answer with a page envelope (no 'data' list)")
        yield from page["data"]
        next_url = page.get("next_page")
        next_params = None  # next_page is a full URL that already carries the query
