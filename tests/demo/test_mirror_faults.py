"""Every fault the mirror can inject is visible from an httpx client, as the connector will see it."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest

from civiclake.demo.mirror import Fault, MirrorServer

pytestmark = pytest.mark.integration

GARES_CSV_RID = "18ab001a-0d6c-49ee-b64a-8195d9b76195"
GARES_REMOTE_RID = "5a8f03c8-4d81-4587-8746-6d6bfb993bd4"
LIST_PATH = "/api/1/datasets/"


def _file_url(mirror: MirrorServer, rid: str) -> str:
    return mirror.url_of(mirror.catalog.resource(rid)[1]["url"])  # type: ignore[index]


def test_status_fault_applies_the_given_number_of_times(fresh_mirror: MirrorServer, fresh_client: httpx.Client) -> None:
    fresh_mirror.inject_fault(LIST_PATH, Fault.http_status(503), times=2)
    statuses = [fresh_client.get(LIST_PATH).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert fresh_client.get(LIST_PATH).status_code == 200


def test_status_fault_with_headers_and_body(fresh_mirror: MirrorServer, fresh_client: httpx.Client) -> None:
    fault = Fault.http_status(500, headers={"Content-Type": "text/html", "X-Upstream": "down"}, body=b"<h1>oops</h1>")
    fresh_mirror.inject_fault(LIST_PATH, fault)
    response = fresh_client.get(LIST_PATH)
    assert (response.status_code, response.text) == (500, "<h1>oops</h1>")
    assert response.headers["x-upstream"] == "down"
    assert response.headers["content-type"] == "text/html"


def test_too_many_requests_carries_retry_after(fresh_mirror: MirrorServer, fresh_client: httpx.Client) -> None:
    fresh_mirror.inject_fault(LIST_PATH, Fault.too_many_requests(retry_after=1))
    response = fresh_client.get(LIST_PATH)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json() == {"message": "Too Many Requests"}


def test_fault_forever_until_cleared(fresh_mirror: MirrorServer, fresh_client: httpx.Client) -> None:
    fresh_mirror.inject_fault(f"{fresh_mirror.api_url}/1/datasets/", Fault.http_status(502), times=None)
    assert {fresh_client.get(LIST_PATH).status_code for _ in range(4)} == {502}
    fresh_mirror.clear_faults()
    assert fresh_client.get(LIST_PATH).status_code == 200


def test_fault_keyed_by_resource_id_hits_its_file_download(
    fresh_mirror: MirrorServer, fresh_client: httpx.Client
) -> None:
    fresh_mirror.inject_fault(GARES_CSV_RID, Fault.http_status(503))
    latest = fresh_client.get(f"/fr/datasets/r/{GARES_CSV_RID}", follow_redirects=True)
    assert latest.status_code == 503
    assert [r.status for r in fresh_mirror.requests] == [302, 503]
    assert fresh_client.get(f"/fr/datasets/r/{GARES_CSV_RID}", follow_redirects=True).status_code == 200


def test_delay_makes_a_client_time_out(fresh_mirror: MirrorServer, fresh_client: httpx.Client) -> None:
    fresh_mirror.inject_fault(GARES_CSV_RID, Fault.slow(3))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        fresh_client.get(_file_url(fresh_mirror, GARES_CSV_RID), timeout=0.3)
    assert time.monotonic() - started < 2


def test_short_delay_only_slows_the_answer(fresh_mirror: MirrorServer, fresh_client: httpx.Client) -> None:
    fresh_mirror.inject_fault(LIST_PATH, Fault.slow(0.3))
    started = time.monotonic()
    assert fresh_client.get(LIST_PATH).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_stop_does_not_wait_for_a_delayed_answer() -> None:
    mirror = MirrorServer().start()
    mirror.inject_fault(LIST_PATH, Fault.slow(30))
    with httpx.Client(base_url=mirror.base_url, timeout=0.2) as client, pytest.raises(httpx.ReadTimeout):
        client.get(LIST_PATH)
    started = time.monotonic()
    mirror.stop()
    assert time.monotonic() - started < 2


def test_reset_cuts_the_body_with_a_read_error(fresh_mirror: MirrorServer, fresh_client: httpx.Client) -> None:
    fresh_mirror.inject_fault(GARES_CSV_RID, Fault.connection_reset(after_bytes=100_000))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        fresh_client.get(_file_url(fresh_mirror, GARES_CSV_RID))
    assert fresh_mirror.requests[-1].bytes_sent == 100_000
    retry = fresh_client.get(_file_url(fresh_mirror, GARES_CSV_RID))  # the pool recovers
    assert retry.status_code == 200 and len(retry.content) == 1_286_574


def test_reset_while_streaming(fresh_mirror: MirrorServer, fresh_client: httpx.Client) -> None:
    fresh_mirror.inject_fault(GARES_CSV_RID, Fault.connection_reset(after_bytes=300_000))
    received = 0
    url = _file_url(fresh_mirror, GARES_CSV_RID)
    with (
        pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)),
        fresh_client.stream("GET", url) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            received += len(chunk)
    assert received < 1_286_574


def test_corrupt_bytes_do_not_match_the_checksum(fresh_mirror: MirrorServer, fresh_client: httpx.Client) -> None:
    resource = fresh_client.get(f"/api/2/datasets/resources/{GARES_CSV_RID}/").json()["resource"]
    fresh_mirror.inject_fault(GARES_CSV_RID, Fault.corrupted())
    corrupted = fresh_client.get(resource["latest"], follow_redirects=True)
    assert corrupted.status_code == 200
    assert len(corrupted.content) == resource["filesize"]
    assert hashlib.sha1(corrupted.content).hexdigest() != resource["checksum"]["value"]
    clean = fresh_client.get(resource["latest"], follow_redirects=True)
    assert hashlib.sha1(clean.content).hexdigest() == resource["checksum"]["value"]


def test_fault_on_the_file_behind_a_remote_link(fresh_mirror: MirrorServer, fresh_client: httpx.Client) -> None:
    remote = fresh_client.get(f"/api/2/datasets/resources/{GARES_REMOTE_RID}/").json()["resource"]
    fresh_mirror.inject_fault(GARES_CSV_RID, Fault.too_many_requests())
    response = fresh_client.get(remote["url"], follow_redirects=True)
    assert response.status_code == 429


def test_times_must_be_positive(fresh_mirror: MirrorServer) -> None:
    with pytest.raises(ValueError, match="positive"):
        fresh_mirror.inject_fault(LIST_PATH, Fault.http_status(500), times=0)
