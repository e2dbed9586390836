"""A local incidents service that answers like ServiceNow's Table API, for the demo and the tests.

``GET /api/now/table/incident?sysparm_limit=&sysparm_offset=&sysparm_query=&sysparm_fields=`` answers
``{"result": [...]}`` with ``X-Total-Count`` and a ``Link`` header (``first``, ``prev``, ``next``,
``last``); ``GET /api/now/table/incident/<sys_id>`` answers one record. Requests need a bearer token
or basic auth (or nothing, as configured) and get ServiceNow's 401 otherwise. The clock moves on
demand: ``POST /_admin/advance?hours=24`` (or ``advance()``) opens, progresses and closes incidents.

Faults for the tests: any status on the next requests of a path (``inject_fault``, the mirror's
``Fault``), a rate limit answered with 429 and ``Retry-After``, pages whose records carry a field the
table does not have (``add_extra_field``), and a hook called after each page is served (to change the
data while a client pages through it).

    with IncidentsServer(incidents=300) as api:
        settings = settings.with_overrides(**api.settings_overrides())

The HTTP plumbing (threaded server, keep-alive, fault application) is the data.gouv.fr mirror's.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode

from civiclake.demo.incidents.store import DEFAULT_CLOCK, Advance, IncidentStore, Query, QueryError, Record
from civiclake.demo.mirror.server import Fault, LocalService, RequestRecord, Response, ServiceHandler

DEFAULT_PORT = 8766
DEMO_TOKEN = "civiclake-demo-token"
DEMO_USERNAME = "civiclake"
DEMO_PASSWORD = "civiclake-demo-password"
TABLE_PREFIX = "/api/now/table/"
DEFAULT_LIMIT = 10000  # what the Table API returns when sysparm_limit is absent
LOG_ENV = "CIVICLAKE_INCIDENTS_LOG"

Auth = Literal["none", "bearer", "basic"]


@dataclass
class _ExtraField:
    name: str
    value: Any
    pages: int | None  # how many more pages carry it; None: every page from now on


class IncidentsApi:
    """Routing and answers, with no socket in sight: ``respond(method, path, query, headers)``."""

    def __init__(self, server: IncidentsServer) -> None:
        self.server = server
        self.store = server.store

    def respond(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Response:
        try:
            return self.route(method, path, parse_qs(query, keep_blank_values=True), headers)
        except QueryError as error:
            return self.error(400, str(error))

    def route(self, method: str, path: str, params: dict[str, list[str]], headers: Mapping[str, str]) -> Response:
        if path.startswith("/_admin/"):
            return self.admin(method, path, params)
        if not path.startswith(TABLE_PREFIX):
            return self.error(400, "Requested URI does not represent any resource")
        if method not in ("GET", "HEAD"):
            return self.error(405, f"Method {method} is not supported by this demo service")
        if not self.server.authorised(headers.get("authorization")):
            response = self.error(401, "User Not Authenticated", "Required to provide Auth information")
            response.headers["WWW-Authenticate"] = 'Basic realm="Service-now"'
            return response
        table, _, sys_id = path[len(TABLE_PREFIX) :].partition("/")
        if table != "incident":
            return self.error(400, f"Invalid table {table}")
        if sys_id:
            return self.one_record(sys_id, params)
        return self.page(path, params)

    # --- the Table API ---

    def page(self, path: str, params: dict[str, list[str]]) -> Response:
        limit = _integer(params, "sysparm_limit", DEFAULT_LIMIT, minimum=1)
        offset = _integer(params, "sysparm_offset", 0, minimum=0)
        query = Query.parse(_first(params, "sysparm_query") or "", self.store.fields)
        total, records = self.store.select(query, offset, limit)
        records = self.server.decorate_page(records)
        fields = _fields(params)
        result = [_project(record, fields) for record in records]
        headers = {"X-Total-Count": str(total), "Link": self.links(path, params, offset, limit, total)}
        response = self.json(200, {"result": result}, headers)
        self.server.page_served(offset, len(result))
        return response

    def one_record(self, sys_id: str, params: dict[str, list[str]]) -> Response:
        record = self.store.get(sys_id)
        if record is None:
            return self.error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
        return self.json(200, {"result": _project(record, _fields(params))})

    def links(self, path: str, params: dict[str, list[str]], offset: int, limit: int, total: int) -> str:
        def link(rel: str, at: int) -> str:
            query = {**params, "sysparm_limit": [str(limit)], "sysparm_offset": [str(at)]}
            return f'<{self.server.base_url}{path}?{urlencode(query, doseq=True)}>;rel="{rel}"'

        last = max(0, (math.ceil(total / limit) - 1) * limit)
        parts = [link("first", 0)]
        if offset > 0:
            parts.append(link("prev", max(0, offset - limit)))
        if offset + limit < total:
            parts.append(link("next", offset + limit))
        parts.append(link("last", last))
        return ",".join(parts)

    # --- what the demo and the tests drive ---

    def admin(self, method: str, path: str, params: dict[str, list[str]]) -> Response:
        if path == "/_admin/advance" and method == "POST":
            hours = _number(params, "hours", 24.0)
            if hours <= 0:
                raise _BadParameter(f"hours must be positive, got {hours:g}")
            return self.json(200, self.server.advance(hours).as_dict())
        if path == "/_admin/clock" and method in ("GET", "HEAD"):
            return self.json(200, {"clock": self.server.clock, "incidents": len(self.store)})
        if path == "/_admin/rate-limit" and method == "POST":
            per_second = _number(params, "per_second", 0.0)
            self.server.rate_limit = per_second or None
            return self.json(200, {"rate_limit": self.server.rate_limit})
        return self.error(404, f"No admin action {method} {path}")

    # --- answers ---

    def json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return Response(
            status, {"Content-Type": "application/json;charset=UTF-8", **(headers or {})}, [body], len(body)
        )

    def error(self, status: int, message: str, detail: str | None = None) -> Response:
        """ServiceNow's error envelope."""
        return self.json(status, {"error": {"message": message, "detail": detail}, "status": "failure"})


class _BadParameter(QueryError):
    """A request parameter the service cannot read (answered with 400, like a bad query)."""


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _integer(params: dict[str, list[str]], name: str, default: int, minimum: int) -> int:
    raw = _first(params, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadParameter(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise _BadParameter(f"{name} must be at least {minimum}, got {value}")
    return value


def _number(params: dict[str, list[str]], name: str, default: float) -> float:
    raw = _first(params, name)
    try:
        return float(raw) if raw else default
    except ValueError:
        raise _BadParameter(f"{name} must be a number, got {raw!r}") from None


def _fields(params: dict[str, list[str]]) -> list[str] | None:
    raw = _first(params, "sysparm_fields")
    return [name.strip() for name in raw.split(",") if name.strip()] if raw else None


def _project(record: Record, fields: list[str] | None) -> Record:
    # The Table API leaves out requested fields that the table does not have.
    return record if fields is None else {name: record[name] for name in fields if name in record}


class _IncidentsHandler(ServiceHandler):
    server_version = "civiclake-incidents"

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get(LOG_ENV):
            sys.stderr.write(f"incidents {self.address_string()} - {format % args}\n")


class IncidentsServer(LocalService):
    """The incidents service on 127.0.0.1, served from a daemon thread; use it as a context manager."""

    def __init__(
        self,
        *,
        port: int = 0,
        seed: int = 42,
        incidents: int = 500,
        clock: datetime = DEFAULT_CLOCK,
        auth: Auth = "bearer",
        token: str = DEMO_TOKEN,
        username: str = DEMO_USERNAME,
        password: str = DEMO_PASSWORD,
        rate_limit: float | None = None,
    ) -> None:
        self.store = IncidentStore(seed=seed, incidents=incidents, clock=clock)
        self.port = port
        self.auth: Auth = auth
        self.token = token
        self.username = username
        self.password = password
        self.rate_limit = rate_limit  # table requests per second; more get 429
        self.on_page: Callable[[int, int], None] | None = None  # called with (offset, records) after each page
        self.requests: list[RequestRecord] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._faults: dict[str, list[list[Any]]] = {}
        self._extra_fields: list[_ExtraField] = []
        self._window_started = 0.0
        self._window_requests = 0
        self._api = IncidentsApi(self)

    # --- lifecycle ---

    def start(self) -> IncidentsServer:
        if self._httpd is None:
            self._serve("incidents-api", _IncidentsHandler)
        return self

    # --- addresses and client settings ---

    @property
    def table_url(self) -> str:
        return f"{self.base_url}{TABLE_PREFIX}incident"

    @property
    def api(self) -> IncidentsApi:
        return self._api

    def settings_overrides(self) -> dict[str, dict[str, Any]]:
        """``Settings.with_overrides(**these)`` points the ``rest`` connector at this service."""
        credentials: dict[str, Any] = {"auth": self.auth}
        if self.auth == "bearer":
            credentials["token"] = self.token
        elif self.auth == "basic":
            credentials.update(username=self.username, password=self.password)
        return {"rest": {"base_url": self.base_url, **credentials}}

    def environment(self) -> dict[str, str]:
        """The same, as ``CIVICLAKE__REST__*`` variables for a shell."""
        return {
            f"CIVICLAKE__REST__{key.upper()}": str(value) for key, value in self.settings_overrides()["rest"].items()
        }

    # --- the data ---

    @property
    def clock(self) -> str:
        return self.store.clock.strftime("%Y-%m-%d %H:%M:%S")

    @property
    def total(self) -> int:
        return len(self.store)

    def advance(self, hours: float) -> Advance:
        return self.store.advance(hours)

    def touch(self, count: int | None = None, *, sys_ids: Iterable[str] | None = None) -> list[str]:
        """A mass update in one second (see ``IncidentStore.touch``)."""
        return self.store.touch(count, sys_ids=sys_ids)

    def add_extra_field(self, name: str = "u_business_service", value: Any = "Email", pages: int | None = 1) -> None:
        """The next ``pages`` pages served (every page when None) carry a field the table does not have."""
        with self._lock:
            self._extra_fields.append(_ExtraField(name, value, pages))

    def decorate_page(self, records: list[Record]) -> list[Record]:
        with self._lock:
            active = [extra for extra in self._extra_fields if extra.pages is None or extra.pages > 0]
            for extra in active:
                if extra.pages is not None:
                    extra.pages -= 1
            self._extra_fields = [extra for extra in self._extra_fields if extra.pages is None or extra.pages > 0]
        for record in records:
            for extra in active:
                record[extra.name] = extra.value
        return records

    def page_served(self, offset: int, count: int) -> None:
        if self.on_page is not None:
            self.on_page(offset, count)

    # --- authentication ---

    def authorised(self, header: str | None) -> bool:
        if self.auth == "none":
            return True
        scheme, _, credentials = (header or "").partition(" ")
        if self.auth == "bearer":
            return scheme.lower() == "bearer" and hmac.compare_digest(credentials.encode(), self.token.encode())
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = f"{self.username}:{self.password}".encode()
        return hmac.compare_digest(f"{user}:{password}".encode(), expected)

    # --- faults ---

    def inject_fault(self, path: str, fault: Fault, times: int | None = 1) -> None:
        """Apply ``fault`` to the next ``times`` requests (``None``: all of them) of ``path``."""
        if times is not None and times <= 0:
            raise ValueError("times must be positive, or None for every request")
        with self._lock:
            self._faults.setdefault(path, []).append([fault, times])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self.rate_limit = None

    def take_fault(self, path: str) -> Fault | None:
        """The fault for this request, if any: an injected one, else a 429 past the rate limit."""
        with self._lock:
            armed = self._faults.get(path)
            if armed:
                fault, remaining = armed[0]
                if remaining is not None:
                    armed[0][1] = remaining - 1
                    if remaining == 1:
                        armed.pop(0)
                return fault  # type: ignore[no-any-return]
            if self.rate_limit and path.startswith(TABLE_PREFIX):
                return self._rate_limited()
        return None

    def _rate_limited(self) -> Fault | None:
        """Fixed one-second windows, as ServiceNow's rate limit rules count."""
        assert self.rate_limit is not None
        now = time.monotonic()
        if now - self._window_started >= 1.0:
            self._window_started, self._window_requests = now, 0
        self._window_requests += 1
        if self._window_requests <= self.rate_limit:
            return None
        wait = max(1, math.ceil(1.0 - (now - self._window_started)))
        body = json.dumps(
            {
                "error": {
                    "message": "Rate limit exceeded",
                    "detail": f"More than {self.rate_limit:g} requests a second",
                },
                "status": "failure",
            }
        ).encode()
        return Fault.http_status(
            429,
            {"Retry-After": str(wait), "X-RateLimit-Limit": f"{self.rate_limit:g}", "Content-Type": "application/json"},
            body,
        )
