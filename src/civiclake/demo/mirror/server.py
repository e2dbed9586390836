"""A local HTTP server that answers like www.data.gouv.fr and static.data.gouv.fr, from the catalogue.

The connector talks to it exactly as to production: same URL layout under ``/api``, same JSON shapes
and status codes, 302 redirects from ``/datasets/r/<id>`` links, files streamed from
``/resources/<slug>/<stamp>/<file>``. Production hosts in the catalogue are rewritten to the server's
own address in every answer. Tests inject faults (error statuses, delays, resets, corrupt bytes) and
read back every request it served. ``delay`` adds a latency to every answer (a distant server), and
``peak_in_flight`` says how many requests it was answering at once at most.

    with MirrorServer() as mirror:
        httpx.get(f"{mirror.api_url}/1/datasets/", params={"q": "gares"})

Set ``CIVICLAKE_MIRROR_LOG=1`` to print one access-log line per request on stderr;
``python -m civiclake.demo.mirror --port 8765`` runs it in the foreground.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import os
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from civiclake.demo.mirror.store import SORT_KEYS, STATIC_HOST, WWW_HOST, Catalog, Json, StoredFile, fold
from civiclake.demo.mirror.synthetic import SyntheticDataset, synthetic_dataset

DEFAULT_CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
DEFAULT_FILES_DIR = Path(__file__).resolve().parent / "files"
LOG_ENV = "CIVICLAKE_MIRROR_LOG"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or on top of) the normal answer to one request.

    ``delay`` waits first; then ``status`` answers with that status, ``headers`` and ``body`` instead
    of the normal answer; otherwise the normal answer is sent, cut by a TCP reset after
    ``reset_after`` body bytes (a shorter body goes out whole), or with its bytes altered (same
    length) when ``corrupt``.
    """

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay: float = 0.0
    reset_after: int | None = None
    corrupt: bool = False

    @classmethod
    def http_status(cls, status: int, headers: Mapping[str, str] | None = None, body: bytes | None = None) -> Fault:
        return cls(status=status, headers=dict(headers or {}), body=body)

    @classmethod
    def too_many_requests(cls, retry_after: int = 1) -> Fault:
        return cls(status=429, headers={"Retry-After": str(retry_after)})

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(delay=seconds)

    @classmethod
    def connection_reset(cls, after_bytes: int = 0) -> Fault:
        return cls(reset_after=after_bytes)

    @classmethod
    def corrupted(cls) -> Fault:
        return cls(corrupt=True)


@dataclass(frozen=True)
class RequestRecord:
    """One request the mirror answered; ``bytes_sent`` counts body bytes only."""

    method: str
    path: str
    query: str
    status: int
    bytes_sent: int
    headers: Mapping[str, str] = field(default_factory=dict)
    received_at: float = 0.0  # time.monotonic() when the request came in

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Iterable[bytes] = ()
    length: int = 0
    file: Path | None = None  # where ``body`` comes from on disk, when it is a whole file


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: Json | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


# --- The API: request in, Response out -------------------------------------------------------------


class Api:
    """Routing and answers, with no socket in sight: ``respond(method, path, query, headers)``."""

    def __init__(self, catalog: Catalog, base_url: str) -> None:
        self.catalog = catalog
        self.base_url = base_url
        self.routes: list[tuple[re.Pattern[str], Callable[..., Response]]] = [
            (re.compile(r"/api/1/datasets/"), self.list_datasets),
            (re.compile(r"/api/1/datasets/community_resources/"), self.list_community_resources),
            (re.compile(r"/api/1/datasets/r/(?P<rid>[^/]+)/?"), self.redirect_to_resource),
            (re.compile(r"/fr/datasets/r/(?P<rid>[^/]+)/?"), self.redirect_to_resource),
            (re.compile(r"/api/1/datasets/(?P<ds>[^/]+)/"), self.get_dataset),
            (re.compile(r"/api/1/datasets/(?P<ds>[^/]+)/resources/(?P<rid>[^/]+)/"), self.get_resource),
            (re.compile(r"/api/2/datasets/resources/(?P<rid>[^/]+)/"), self.get_resource_v2),
            (re.compile(r"/api/2/datasets/(?P<ds>[^/]+)/"), self.get_dataset_v2),
            (re.compile(r"/api/2/datasets/(?P<ds>[^/]+)/resources/"), self.list_resources_v2),
        ]

    def respond(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Response:
        params = parse_qs(query, keep_blank_values=True)
        if method not in ("GET", "HEAD"):
            return self.json(405, {"message": "The method is not allowed for the requested URL."})
        try:
            for pattern, answer in self.routes:
                match = pattern.fullmatch(path)
                if match:
                    return answer(params, **match.groupdict())
        except ApiError as error:
            payload: Json = {"message": error.message}
            if error.errors:
                payload["errors"] = error.errors
            return self.json(error.status, payload)
        stored = self.catalog.file_at(path)
        if stored is not None and stored.exists():
            return self.file(stored, headers)
        if path.startswith("/api/") and not path.endswith("/"):
            # Flask routes end with a slash and redirect the URL without it (308 keeps the method).
            return self.redirect(f"{self.base_url}{path}/" + (f"?{query}" if query else ""), status=308)
        return self.json(404, {"message": "Not found"})

    # --- answers ---

    def json(self, status: int, payload: Any) -> Response:
        body = self.rewrite(json.dumps(payload, ensure_ascii=False)).encode("utf-8")
        return Response(status, {"Content-Type": "application/json"}, [body], len(body))

    def redirect(self, location: str, status: int = 302) -> Response:
        location = self.rewrite(location)
        body = f'<a href="{location}">{location}</a>'.encode()
        headers = {"Location": location, "Content-Type": "text/html; charset=utf-8"}
        return Response(status, headers, [body], len(body))

    def file(self, stored: StoredFile, request_headers: Mapping[str, str]) -> Response:
        resource = stored.resource
        checksum = (resource.get("checksum") or {}).get("value")
        size = stored.size
        etag = f'"{checksum}"' if checksum else f'"{size:x}-{abs(hash(resource["id"])):x}"'
        headers = {
            "Content-Type": resource.get("mime") or "application/octet-stream",
            "ETag": etag,
            "Accept-Ranges": "none",
        }
        if resource.get("last_modified"):
            modified = datetime.fromisoformat(resource["last_modified"])
            headers["Last-Modified"] = email.utils.format_datetime(modified, usegmt=True)
        if request_headers.get("if-none-match") == etag:
            return Response(304, headers, [], 0)
        return Response(200, headers, stored.chunks(), size, file=stored.path)

    def rewrite(self, text: str) -> str:
        """Point production URLs at the mirror."""
        return text.replace(STATIC_HOST, self.base_url).replace(WWW_HOST, self.base_url)

    # --- routes ---

    def list_datasets(self, params: dict[str, list[str]]) -> Response:
        page, page_size = self.paging(params, default_size=20)
        sort = first(params, "sort")
        if sort and sort.lstrip("-") not in SORT_KEYS:
            raise ApiError(400, "Input payload validation failed", {"sort": f"Unknown sort: {sort!r}"})
        found = self.catalog.search(
            words=" ".join(params.get("q", [])).split(),
            tags=[tag for tag in params.get("tag", []) if tag],
            organization=first(params, "organization"),
            sort=sort,
        )
        return self.json(200, self.page_envelope(found, page, page_size, "/api/1/datasets/", params))

    def list_community_resources(self, params: dict[str, list[str]]) -> Response:
        page, page_size = self.paging(params, default_size=20)
        return self.json(200, self.page_envelope([], page, page_size, "/api/1/datasets/community_resources/", params))

    def get_dataset(self, params: dict[str, list[str]], ds: str) -> Response:
        return self.json(200, self.visible_dataset(ds))

    def get_resource(self, params: dict[str, list[str]], ds: str, rid: str) -> Response:
        dataset = self.visible_dataset(ds)
        for resource in dataset["resources"]:
            if resource["id"] == rid:
                return self.json(200, resource)
        raise ApiError(404, "Resource not found")

    def redirect_to_resource(self, params: dict[str, list[str]], rid: str) -> Response:
        found = self.catalog.resource(rid)
        if found is None:
            raise ApiError(404, "Resource not found")
        return self.redirect(found[1]["url"])

    def get_dataset_v2(self, params: dict[str, list[str]], ds: str) -> Response:
        dataset = self.visible_dataset(ds)
        shaped = dict(dataset)
        shaped["resources"] = {
            "rel": "subsection",
            "href": f"{WWW_HOST}/api/2/datasets/{dataset['id']}/resources/?page=1&page_size=50",
            "type": "GET",
            "total": len(dataset["resources"]),
        }
        community = f"{WWW_HOST}/api/1/datasets/community_resources/?dataset={dataset['id']}"
        shaped["community_resources"] = {
            "rel": "subsection",
            "href": f"{community}&page=1&page_size=50",
            "type": "GET",
            "total": 0,
        }
        return self.json(200, shaped)

    def list_resources_v2(self, params: dict[str, list[str]], ds: str) -> Response:
        dataset = self.visible_dataset(ds)
        page, page_size = self.paging(params, default_size=50)
        resources = dataset["resources"]
        wanted_type = first(params, "type")
        if wanted_type:
            resources = [resource for resource in resources if resource.get("type") == wanted_type]
        words = fold(" ".join(params.get("q", []))).split()
        if words:
            resources = [r for r in resources if all(word in fold(r.get("title") or "") for word in words)]
        path = f"/api/2/datasets/{ds}/resources/"
        return self.json(200, self.page_envelope(resources, page, page_size, path, params))

    def get_resource_v2(self, params: dict[str, list[str]], rid: str) -> Response:
        found = self.catalog.resource(rid)
        if found is None:
            raise ApiError(404, "Resource not found")
        dataset, resource = found
        return self.json(200, {"resource": resource, "dataset_id": dataset["id"]})

    # --- helpers ---

    def visible_dataset(self, id_or_slug: str) -> Json:
        dataset = self.catalog.dataset(id_or_slug)
        if dataset is None or dataset.get("private"):
            raise ApiError(404, "Not found")
        if dataset.get("deleted"):
            raise ApiError(410, "Dataset has been deleted")
        return dataset

    @staticmethod
    def paging(params: dict[str, list[str]], default_size: int) -> tuple[int, int]:
        values = {}
        for name, default in (("page", 1), ("page_size", default_size)):
            raw = first(params, name)
            try:
                values[name] = default if raw is None else int(raw)
            except ValueError:
                values[name] = 0
            if values[name] <= 0:
                raise ApiError(
                    400,
                    "Input payload validation failed",
                    {name: f"{name} must be a positive integer, got {raw!r}"},
                )
        return values["page"], values["page_size"]

    def page_envelope(
        self, items: list[Json], page: int, page_size: int, path: str, params: dict[str, list[str]]
    ) -> Json:
        total = len(items)

        def page_url(number: int) -> str:
            query = {**params, "page": [str(number)], "page_size": [str(page_size)]}
            return f"{self.base_url}{path}?{urlencode(query, doseq=True)}"

        return {
            "data": items[(page - 1) * page_size : page * page_size],
            "page": page,
            "page_size": page_size,
            "total": total,
            "next_page": page_url(page + 1) if page * page_size < total else None,
            "previous_page": page_url(page - 1) if page > 1 else None,
        }


def first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


# --- The HTTP side --------------------------------------------------------------------------------


def _corrupt(chunks: Iterable[bytes], length: int) -> Iterator[bytes]:
    """Flip every bit of the byte in the middle: same length, different checksum."""
    target = length // 2
    position = 0
    for chunk in chunks:
        if position <= target < position + len(chunk):
            index = target - position
            chunk = chunk[:index] + bytes([chunk[index] ^ 0xFF]) + chunk[index + 1 :]
        position += len(chunk)
        yield chunk


class ServiceHandler(BaseHTTPRequestHandler):
    """Answers through ``server.service`` (its api, faults and request log); shared by the demo services."""

    protocol_version = "HTTP/1.1"  # keep-alive, as a real client expects
    server_version = "civiclake-mirror"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    timeout = 30  # an idle keep-alive connection gives its thread back after this
    disable_nagle_algorithm = True  # headers and body go in separate writes: do not wait for ACKs
    server: ServiceHttpServer
    body_bytes_sent = 0

    def answer(self) -> None:
        if self.command not in ("GET", "HEAD"):
            # the request body is not read: it must not be taken for the next request
            self.close_connection = True
        mirror = self.server.service
        url = urlsplit(self.path)
        path = unquote(url.path)
        request_headers = {key.lower(): value for key, value in self.headers.items()}
        fault = mirror.take_fault(path)
        status, self.body_bytes_sent = 0, 0
        received_at = time.monotonic()
        mirror.request_started()
        try:
            if mirror.delay:
                mirror.stopping.wait(mirror.delay)
            if fault and fault.delay:
                mirror.stopping.wait(fault.delay)
            if fault and fault.status:
                response = self.fault_response(fault)
            else:
                response = self.normal_response(path, url.query, request_headers)
            status = response.status
            self.send(response, fault)
        except OSError:
            self.close_connection = True  # the client went away (or timed out): nothing more to say
        finally:
            mirror.request_finished()
            record = RequestRecord(
                self.command, path, url.query, status, self.body_bytes_sent, request_headers, received_at
            )
            mirror.requests.append(record)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def normal_response(self, path: str, query: str, request_headers: dict[str, str]) -> Response:
        api = self.server.service.api
        try:
            return api.respond(self.command, path, query, request_headers)
        except Exception:
            logger.exception("mirror failed to answer %s %s", self.command, self.path)
            return api.json(500, {"message": "Internal server error"})

    @staticmethod
    def fault_response(fault: Fault) -> Response:
        headers = dict(fault.headers)
        body = fault.body
        if body is None:
            assert fault.status is not None
            body = json.dumps({"message": HTTPStatus(fault.status).phrase}).encode()
            headers.setdefault("Content-Type", "application/json")
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return Response(fault.status or 500, headers, [body], len(body))

    def send(self, response: Response, fault: Fault | None) -> None:
        """Write status, headers and body (counted in ``body_bytes_sent``), applying a reset or corruption."""
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(response.length))
        self.end_headers()
        chunks = response.body
        try:
            if self.command == "HEAD" or response.status == 304:
                return
            if fault and fault.corrupt:
                chunks = _corrupt(chunks, response.length)
            reset_after = fault.reset_after if fault else None
            if response.file is not None and not (fault and fault.corrupt) and reset_after is None:
                # The kernel copies the file to the socket: serving a large file through Python chunks
                # cost the mirror a third of a CPU second per GiB, taken from the client it serves.
                with response.file.open("rb") as handle:
                    try:
                        self.connection.sendfile(handle)
                    finally:
                        self.body_bytes_sent = handle.tell()  # also what went out before a failure
                return
            for chunk in chunks:
                if reset_after is not None and self.body_bytes_sent + len(chunk) > reset_after:
                    part = chunk[: reset_after - self.body_bytes_sent]
                    self.wfile.write(part)
                    self.body_bytes_sent += len(part)
                    self.reset_connection()
                    return
                self.wfile.write(chunk)
                self.body_bytes_sent += len(chunk)
        finally:
            close = getattr(response.body, "close", None)
            if close is not None:
                close()  # a file stream stopped early still closes its file

    def reset_connection(self) -> None:
        """Abort the TCP connection (RST, not FIN), as a dropped link would."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()  # the descriptor closes, with a reset, when finish() closes rfile

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get(LOG_ENV):
            sys.stderr.write(f"mirror {self.address_string()} - {format % args}\n")


class ServiceHttpServer(ThreadingHTTPServer):
    """Tracks open connections and their threads so that stop() leaves nothing running."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], service: LocalService, handler: type[ServiceHandler] = ServiceHandler
    ) -> None:
        super().__init__(address, handler)
        self.service = service
        self._connections_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(target=self._serve_connection, args=(request, client_address), daemon=True)
        with self._connections_lock:
            self._connections.add(request)
            self._workers.add(worker)
        worker.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)
                self._workers.discard(threading.current_thread())

    def close_connections(self, timeout: float = 5.0) -> None:
        with self._connections_lock:
            connections, workers = list(self._connections), list(self._workers)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for worker in workers:
            worker.join(timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if os.environ.get(LOG_ENV):
            super().handle_error(request, client_address)
        elif not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is no news; a bug is
            logger.exception("mirror connection from %s failed", client_address)


# --- The public objects ---------------------------------------------------------------------------


class LocalService:
    """A demo service on 127.0.0.1, served from a daemon thread; use it as a context manager.

    Subclasses give ``api`` (with ``respond``), ``take_fault`` and ``requests``, and call ``_serve`` to start.
    """

    port: int
    requests: list[RequestRecord]
    stopping: threading.Event
    delay: float = 0.0  # seconds every request waits before its answer
    in_flight: int = 0
    peak_in_flight: int = 0  # most requests answered at once since start() or reset_peak()
    _httpd: ServiceHttpServer | None = None
    _thread: threading.Thread | None = None
    _flight_lock: threading.Lock | None = None

    @property
    def api(self) -> Any:
        raise NotImplementedError

    def take_fault(self, path: str) -> Fault | None:
        raise NotImplementedError

    def request_started(self) -> None:
        assert self._flight_lock is not None, "requests are answered by a started service"
        with self._flight_lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def request_finished(self) -> None:
        assert self._flight_lock is not None, "requests are answered by a started service"
        with self._flight_lock:
            self.in_flight -= 1

    def reset_peak(self) -> None:
        """Count ``peak_in_flight`` from now on (requests being answered still count)."""
        assert self._flight_lock is not None, "the service is not running"
        with self._flight_lock:
            self.peak_in_flight = self.in_flight

    def _serve(self, thread_name: str, handler: type[ServiceHandler] = ServiceHandler) -> None:
        self.stopping.clear()
        self._flight_lock = threading.Lock()
        self.in_flight = self.peak_in_flight = 0
        self._httpd = ServiceHttpServer(("127.0.0.1", self.port), self, handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=thread_name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.stopping.set()  # wakes up requests sleeping on a delay fault
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    def start(self) -> Self:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not running: call start() or use it in a with block")
        return f"http://127.0.0.1:{self.port}"


class MirrorServer(LocalService):
    """The data.gouv.fr mirror on 127.0.0.1, served from a daemon thread; use it as a context manager."""

    def __init__(
        self, catalog_dir: Path | None = None, files_dir: Path | None = None, port: int = 0, delay: float = 0.0
    ) -> None:
        if delay < 0:
            raise ValueError(f"delay must be zero or positive, got {delay}")
        self.catalog = Catalog.load(catalog_dir or DEFAULT_CATALOG_DIR, files_dir or DEFAULT_FILES_DIR)
        self.port = port
        self.delay = delay
        self.requests: list[RequestRecord] = []
        self.stopping = threading.Event()
        self._faults: dict[str, list[list[Any]]] = {}
        self._faults_lock = threading.Lock()
        self._api: Api | None = None

    # --- lifecycle ---

    def start(self) -> MirrorServer:
        if self._httpd is None:
            self._serve("datagouv-mirror")
            self._api = Api(self.catalog, self.base_url)
        return self

    # --- addresses ---

    @property
    def api_url(self) -> str:
        """What ``CIVICLAKE__DATAGOUV__API_URL`` should be set to."""
        return f"{self.base_url}/api"

    @property
    def api(self) -> Api:
        if self._api is None:
            raise RuntimeError("the mirror is not running")
        return self._api

    def url_of(self, production_url: str) -> str:
        """The mirror's address for a production URL (``https://static.data.gouv.fr/...``)."""
        return self.api.rewrite(production_url)

    # --- what tests change ---

    def add_dataset(self, dataset: Json, files: Mapping[str, bytes] | None = None) -> Json:
        """Add or replace a dataset; ``files`` maps resource ids (or file names) to the bytes to serve.

        Fields the API has and the dataset leaves out are filled in (a resource without ``url`` gets a
        static URL; ``filesize`` and ``checksum`` come from its bytes). Returns the stored dataset.
        """
        return self.catalog.add(dataset, files)

    def add_synthetic_catalogue(self, count: int, seed: int = 0) -> list[SyntheticDataset]:
        """Serve ``count`` synthetic datasets (``synthetic.synthetic_dataset``) with their broken resources broken."""
        added = []
        for index in range(count):
            added.append(self.serve_synthetic(synthetic_dataset(seed, index)))
        return added

    def serve_synthetic(self, item: SyntheticDataset) -> SyntheticDataset:
        """Add or replace one synthetic dataset; its failing resources answer 500 until faults are cleared."""
        self.add_dataset(item.dataset, item.files)
        for rid in item.failing:
            self.inject_fault(rid, Fault.http_status(500), times=None)
        return item

    def inject_fault(self, path_or_resource_id: str, fault: Fault, times: int | None = 1) -> None:
        """Apply ``fault`` to the next ``times`` requests (``None``: all of them) of a path or file.

        The key is a URL path (``/api/1/datasets/``; a full URL is reduced to its path) or a resource
        id, which targets the download of that resource's file.
        """
        if times is not None and times <= 0:
            raise ValueError("times must be positive, or None for every request")
        key = path_or_resource_id
        if key.startswith(("http://", "https://")):
            key = unquote(urlsplit(key).path)
        with self._faults_lock:
            self._faults.setdefault(key, []).append([fault, times])

    def clear_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    def take_fault(self, path: str) -> Fault | None:
        """The fault armed for this request, if any, counting it as used."""
        keys = [path]
        stored = self.catalog.file_at(path)
        if stored is not None:
            keys.append(stored.resource["id"])
        with self._faults_lock:
            for key in keys:
                armed = self._faults.get(key)
                if not armed:
                    continue
                fault, remaining = armed[0]
                if remaining is not None:
                    armed[0][1] = remaining - 1
                    if remaining == 1:
                        armed.pop(0)
                        if not armed:
                            del self._faults[key]
                return fault  # type: ignore[no-any-return]
        return None
