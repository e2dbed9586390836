"""Paginated REST collections (ServiceNow's Table API by default), extracted incrementally.

Each configured endpoint is one dataset with one incremental resource: every run asks for the records
whose cursor field (``sys_updated_on``) is at or after the saved cursor, ordered by it, and streams each
page to the raw file as NDJSON (one record a line; only one page is ever in memory).

Offset pagination is keyed on the cursor, not on a plain offset: each page asks again for
``cursor >= <last value seen>`` and skips only the records of that value already returned. A record
updated while the run pages through the collection moves to the end of the order; with plain offsets
that shifts every later record back one place and the one at the page boundary is never seen. Here it
shifts nothing that was not yet read. ``link`` pagination follows the API's ``Link: rel="next"``
instead, for APIs that do not sort or filter on the cursor.

Credentials (bearer token, basic user and password) go in the ``Authorization`` header only; URLs,
manifests, errors and logs never carry them.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import SecretStr

from civiclake.config import HttpSettings, RestEndpointSettings, RestSettings, Settings
from civiclake.errors import ConfigurationError, HttpStatusError, SourceError, TransientError
from civiclake.sources.base import DatasetInfo, DiscoveredDataset, DiscoveryFailure, Resource
from civiclake.sources.http import Download, HttpClient, JsonResponse, ProgressCallback
from civiclake.sources.rest.cursor import CursorPosition, CursorTracker

SOURCE = "rest"
_LINK = re.compile(r"<([^>]*)>([^<]*)")
_REL_NEXT = re.compile(r""";\s*rel\s*=\s*"?next"?(?:\s|;|,|$)""")


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` on every request."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        yield request


@dataclass(frozen=True)
class RestEndpoint:
    """An endpoint's settings with the section's defaults applied and its credentials checked."""

    settings: RestEndpointSettings
    base_url: str
    auth_mode: str
    auth: httpx.Auth | None
    credentials_hint: str  # where the credentials come from, for a 401's message

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.settings.path.lstrip('/')}"

    @property
    def resource_name(self) -> str:
        return self.settings.resource or PurePosixPath(urlsplit(self.url).path).name or self.name

    @property
    def resource_id(self) -> str:
        # Independent of the host: pointing an endpoint at another address keeps its table and cursor.
        return f"{self.name}:{self.settings.path}"

    @classmethod
    def resolve(cls, endpoint: RestEndpointSettings, section: RestSettings) -> RestEndpoint:
        where = f"rest endpoint {endpoint.name!r}"
        base_url = endpoint.base_url or section.base_url
        if not base_url:
            raise ConfigurationError(f"{where} has no base_url: set it, or CIVICLAKE__REST__BASE_URL")
        if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
            raise ConfigurationError(f"{where}: base_url {base_url!r} is not an http(s) URL")
        if urlsplit(base_url).username or urlsplit(base_url).password:
            raise ConfigurationError(f"{where}: put credentials in token/username/password, never in base_url")
        if endpoint.start is not None:
            try:
                datetime.strptime(endpoint.start, endpoint.cursor_format)
            except ValueError:
                raise ConfigurationError(
                    f"{where}: start {endpoint.start!r} does not match cursor_format {endpoint.cursor_format!r}"
                ) from None
        mode = endpoint.auth or section.auth
        auth: httpx.Auth | None = None
        hint = "rest.auth: this endpoint sends no credentials"
        if mode == "bearer":
            token = endpoint.token or section.token
            hint = "its token (rest.endpoints[].token)" if endpoint.token else "CIVICLAKE__REST__TOKEN"
            if token is None or not token.get_secret_value():
                raise ConfigurationError(
                    f"{where} uses bearer auth but has no token: set CIVICLAKE__REST__TOKEN (or a secret file "
                    "of that name in CIVICLAKE_SECRETS_DIR), or token in its rest.endpoints entry"
                )
            auth = BearerAuth(token)
        elif mode == "basic":
            username = endpoint.username or section.username
            password = endpoint.password or section.password
            hint = "CIVICLAKE__REST__USERNAME and CIVICLAKE__REST__PASSWORD (or the endpoint's own)"
            if not username or password is None:
                raise ConfigurationError(
                    f"{where} uses basic auth but lacks a user or password: set CIVICLAKE__REST__USERNAME and "
                    "CIVICLAKE__REST__PASSWORD (or secret files), or username/password in its rest.endpoints entry"
                )
            auth = httpx.BasicAuth(username, password.get_secret_value())
        return cls(endpoint, base_url, mode, auth, hint)


@dataclass
class _Page:
    response: JsonResponse
    records: list[dict[str, Any]]


class RestConnector:
    source = SOURCE

    def __init__(
        self,
        settings: RestSettings,
        http: HttpSettings,
        endpoints: tuple[RestEndpointSettings, ...] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        chosen = settings.configured_endpoints() if endpoints is None else endpoints
        names = [endpoint.name for endpoint in chosen]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ConfigurationError(f"rest endpoints must have distinct names: {', '.join(duplicated)} repeated")
        self.endpoints = {
            resolved.resource_id: resolved for resolved in (RestEndpoint.resolve(e, settings) for e in chosen)
        }
        self._clients = {
            resource_id: HttpClient(http, sleep=sleep, auth=endpoint.auth)
            for resource_id, endpoint in self.endpoints.items()
        }

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def discover(self) -> Iterator[DiscoveredDataset | DiscoveryFailure]:
        """One dataset per endpoint, from the settings alone: the API is first called by ``fetch``."""
        for endpoint in self.endpoints.values():
            info = DatasetInfo(
                source=SOURCE,
                dataset_id=endpoint.name,
                slug=endpoint.name,
                title=f"{endpoint.name} ({endpoint.resource_name} at {urlsplit(endpoint.url).netloc})",
                organization=urlsplit(endpoint.url).hostname,
                frequency=endpoint.settings.frequency,
                last_modified=None,
                page_url=endpoint.url,
            )
            resource = Resource(
                source=SOURCE,
                dataset_id=endpoint.name,
                dataset_slug=endpoint.name,
                resource_id=endpoint.resource_id,
                title=endpoint.resource_name,
                url=endpoint.url,
                declared_format="ndjson",
                incremental=True,
            )
            yield DiscoveredDataset(dataset=info, resources=[resource], skipped=[], name=endpoint.name)

    def fetch(
        self, resource: Resource, destination: Path, on_progress: ProgressCallback | None, cursor: str | None = None
    ) -> Download:
        endpoint = self.endpoints[resource.resource_id]
        try:
            return self._extract(endpoint, self._clients[resource.resource_id], destination, on_progress, cursor)
        except HttpStatusError as error:
            if error.status in (401, 403):
                raise SourceError(
                    f"{endpoint.url} refused the credentials ({error}); check {endpoint.credentials_hint}"
                ) from error
            raise
        except TransientError as error:
            raise TransientError(f"cannot get {endpoint.url} ({endpoint.name}): {error}") from error

    # --- extraction ---

    def _extract(
        self,
        endpoint: RestEndpoint,
        client: HttpClient,
        destination: Path,
        on_progress: ProgressCallback | None,
        cursor: str | None,
    ) -> Download:
        settings = endpoint.settings
        tracker = CursorTracker(
            CursorPosition.load(cursor, settings.start), settings.cursor_format, ordered=settings.pagination == "offset"
        )
        first_url: str | None = None
        headers: dict[str, str] = {"content-type": "application/x-ndjson"}
        with _NdjsonFile(destination) as sink:
            for page in self._pages(endpoint, client, tracker):
                if first_url is None:
                    first_url = page.response.url
                    headers.update({k: v for k, v in page.response.headers.items() if k in ("date", "server")})
                written = 0
                for position, record in enumerate(page.records, start=1):
                    if not isinstance(record, dict):
                        raise SourceError(
                            f"{page.response.url}: item {position} of '{settings.records_field}' is "
                            f"{type(record).__name__}, not an object"
                        )
                    line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
                    key = str(record.get(settings.key_field))
                    if tracker.accept(record.get(settings.cursor_field), key, line):
                        written += sink.write(line)
                if on_progress and written:
                    on_progress(written)
        return Download(
            url=first_url or endpoint.url,
            final_url=endpoint.url,
            status=200,
            headers=headers,
            size=sink.size,
            sha256=sink.sha256,
            cursor=tracker.position.dumps(),
            records=sink.records,
        )

    def _pages(self, endpoint: RestEndpoint, client: HttpClient, tracker: CursorTracker) -> Iterator[_Page]:
        settings = endpoint.settings
        if settings.pagination == "link":
            yield from self._linked_pages(endpoint, client, tracker)
            return
        previous: tuple[str, str, int] | None = None
        while True:
            params = self._params(endpoint, tracker.group_value, tracker.group_returned)
            page = self._get_page(endpoint, client, endpoint.url, params)
            if not page.records:
                return
            shape = (
                _key_of(page.records[0], settings.key_field),
                _key_of(page.records[-1], settings.key_field),
                len(page.records),
            )
            if shape == previous:
                raise SourceError(
                    f"{page.response.url} answered the same page twice: does the API honour "
                    f"{settings.offset_param} and {settings.query_param}? (or use pagination: link)"
                )
            previous = shape
            yield page

    def _linked_pages(self, endpoint: RestEndpoint, client: HttpClient, tracker: CursorTracker) -> Iterator[_Page]:
        url: str | None = endpoint.url
        params: dict[str, Any] | None = self._params(endpoint, tracker.group_value, 0)
        visited: set[str] = set()
        while url:
            page = self._get_page(endpoint, client, url, params)
            yield page
            visited.add(page.response.url)
            url = _next_link(page.response)
            params = None  # the next link carries the whole query
            if url is None:
                return
            url = urljoin(page.response.url, url)
            if urlsplit(url)[:2] != urlsplit(endpoint.url)[:2]:
                # Following it would send the credentials to another host.
                raise SourceError(f"{page.response.url}: the next-page link points to another origin ({url})")
            if url in visited:
                raise SourceError(f"{page.response.url}: the next-page link loops back to {url}")

    def _params(self, endpoint: RestEndpoint, since: str | None, offset: int) -> dict[str, Any]:
        settings = endpoint.settings
        order = f"ORDERBY{settings.cursor_field}^ORDERBY{settings.key_field}"
        query = f"{settings.cursor_field}>={since}^{order}" if since is not None else order
        return {
            **settings.params,
            settings.limit_param: settings.page_size,
            settings.offset_param: offset,
            settings.query_param: query,
        }

    def _get_page(self, endpoint: RestEndpoint, client: HttpClient, url: str, params: dict[str, Any] | None) -> _Page:
        response = client.get_json_response(url, params)
        field = endpoint.settings.records_field
        records = response.body.get(field) if isinstance(response.body, dict) else None
        if not isinstance(records, list):
            raise SourceError(f"{response.url} answered without a '{field}' list of records")
        return _Page(response, records)


def _key_of(record: object, key_field: str) -> str:
    return str(record.get(key_field)) if isinstance(record, dict) else repr(record)


def _next_link(response: JsonResponse) -> str | None:
    for header in response.headers.get_list("link"):
        for match in _LINK.finditer(header):
            if _REL_NEXT.search(match.group(2)):
                return match.group(1)
    return None


class _NdjsonFile:
    """The raw file being written: bytes hashed and records counted on the way."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self.records = 0
        self._hash = hashlib.sha256()
        self._file: BinaryIO | None = None

    def __enter__(self) -> _NdjsonFile:
        self._file = self.path.open("wb")
        return self

    def __exit__(self, *_: object) -> None:
        if self._file is not None:
            self._file.close()

    def write(self, line: bytes) -> int:
        assert self._file is not None
        self._file.write(line)
        self._hash.update(line)
        self.size += len(line)
        self.records += 1
        return len(line)

    @property
    def sha256(self) -> str:
        return str(self._hash.hexdigest())


def rest_connectors(settings: Settings, sources: list[str], datasets: list[str]) -> list[RestConnector]:
    """The ``rest`` connector of a ``civiclake sync``: every configured endpoint, or those named by --dataset.

    Unconfigured, it is skipped unless ``--source rest`` asks for it; dataset names that are no endpoint
    belong to other sources, unless rest is the only source asked for.
    """
    endpoints = settings.rest.configured_endpoints()
    if not endpoints:
        if SOURCE in sources:
            raise ConfigurationError(
                "no REST endpoint is configured: set CIVICLAKE__REST__BASE_URL (`civiclake serve incidents-api` "
                "prints it) or list rest.endpoints in civiclake.yaml"
            )
        return []
    if datasets:
        chosen = tuple(endpoint for endpoint in endpoints if endpoint.name in datasets)
        unknown = sorted(set(datasets) - {endpoint.name for endpoint in endpoints})
        if unknown and sources == [SOURCE]:
            known = ", ".join(endpoint.name for endpoint in endpoints)
            raise ConfigurationError(f"no rest endpoint named {', '.join(unknown)} (configured: {known})")
        if not chosen:
            return []
        endpoints = chosen
    return [RestConnector(settings.rest, settings.http, endpoints)]
