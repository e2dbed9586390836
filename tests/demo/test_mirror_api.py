"""The mirror answers with data.gouv.fr's URL layout, JSON shapes, status codes and redirects."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from civiclake.demo.mirror import MirrorServer

pytestmark = pytest.mark.integration

ACCIDENTS_ID = "53698f4ca3a729239d2036df"
ACCIDENTS_SLUG = "bases-de-donnees-annuelles-des-accidents-corporels-de-la-circulation-routiere-annees-de-2005-a-2023"
DELETED_ID = "542d130caaa9942b00d06dd4"
GARES_CSV_RID = "18ab001a-0d6c-49ee-b64a-8195d9b76195"
GARES_REMOTE_RID = "5a8f03c8-4d81-4587-8746-6d6bfb993bd4"
ENVELOPE_KEYS = {"data", "page", "page_size", "total", "next_page", "previous_page"}


def _live_ids(mirror: MirrorServer) -> set[str]:
    return {d["id"] for d in mirror.catalog.datasets() if not d["deleted"]}


def _search(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/1/datasets/", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response.json()  # type: ignore[no-any-return]


# --- dataset list ---


def test_list_answers_a_page_envelope_with_defaults(client: httpx.Client, mirror: MirrorServer) -> None:
    page = _search(client)
    assert set(page) == ENVELOPE_KEYS
    assert (page["page"], page["page_size"]) == (1, 20)
    assert page["total"] == len(_live_ids(mirror)) == 6
    assert page["next_page"] is None and page["previous_page"] is None
    assert DELETED_ID not in {d["id"] for d in page["data"]}
    assert all(isinstance(d["resources"], list) for d in page["data"])  # v1: resources inline


def test_walking_next_page_gives_every_dataset_once(client: httpx.Client, mirror: MirrorServer) -> None:
    seen: list[str] = []
    url: str | None = f"{mirror.api_url}/1/datasets/?page_size=2"
    pages = []
    while url:
        page = client.get(url).json()
        pages.append(page)
        seen += [d["id"] for d in page["data"]]
        url = page["next_page"]
    assert len(pages) == 3
    assert sorted(seen) == sorted(_live_ids(mirror))
    assert pages[1]["previous_page"] == f"{mirror.api_url}/1/datasets/?page_size=2&page=1"
    assert pages[0]["next_page"].startswith(mirror.api_url)


def test_search_words_are_anded_case_and_accent_insensitive(client: httpx.Client) -> None:
    def titles(q: str) -> set[str]:
        return {d["title"] for d in _search(client, q=q)["data"]}

    assert titles("gares") == {"Liste des gares", "Fréquentation en gares"}
    assert titles("FREQUENTATION gares") == {"Fréquentation en gares"}
    assert titles("fréquentation") == titles("Frequentation")
    assert titles("gares accidents") == set()
    assert _search(client, q="gares accidents")["total"] == 0


def test_tags_must_all_match(client: httpx.Client) -> None:
    assert {d["slug"] for d in _search(client, tag="gares")["data"]} == {
        "liste-des-gares",
        "frequentation-en-gares",
    }
    both = client.get("/api/1/datasets/", params=[("tag", "gares"), ("tag", "voyageurs")]).json()
    assert [d["slug"] for d in both["data"]] == ["frequentation-en-gares"]


def test_organization_filter_takes_an_id_or_a_slug(client: httpx.Client) -> None:
    by_slug = _search(client, organization="ministere-de-linterieur-et-des-outre-mer")
    by_id = _search(client, organization=by_slug["data"][0]["organization"]["id"])
    assert [d["id"] for d in by_slug["data"]] == [d["id"] for d in by_id["data"]] == [ACCIDENTS_ID]


def test_sort(client: httpx.Client) -> None:
    by_views = [d["metrics"]["views"] for d in _search(client, sort="-views")["data"]]
    assert by_views == sorted(by_views, reverse=True)
    created = [d["created_at"] for d in _search(client, sort="created")["data"]]
    assert created == sorted(created)
    assert client.get("/api/1/datasets/", params={"sort": "popularity"}).status_code == 400


@pytest.mark.parametrize("name", ["page", "page_size"])
@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_bad_paging_is_a_400_with_a_message(client: httpx.Client, name: str, value: str) -> None:
    response = client.get("/api/1/datasets/", params={name: value})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["message"]


def test_page_past_the_end_is_empty(client: httpx.Client) -> None:
    page = _search(client, page=9, page_size=5)
    assert page["data"] == [] and page["next_page"] is None and page["previous_page"]


# --- one dataset, one resource ---


def test_dataset_by_id_and_by_slug(client: httpx.Client) -> None:
    by_id = client.get(f"/api/1/datasets/{ACCIDENTS_ID}/").json()
    by_slug = client.get(f"/api/1/datasets/{ACCIDENTS_SLUG}/").json()
    assert by_id == by_slug
    assert [r["format"] for r in by_id["resources"]] == ["csv", "zip", "xlsx", "pdf"]


def test_missing_dataset_is_404_and_deleted_is_410(client: httpx.Client) -> None:
    missing = client.get("/api/1/datasets/no-such-dataset/")
    assert (missing.status_code, missing.json()) == (404, {"message": "Not found"})
    deleted = client.get(f"/api/1/datasets/{DELETED_ID}/")
    assert (deleted.status_code, deleted.json()) == (410, {"message": "Dataset has been deleted"})
    assert client.get(f"/api/2/datasets/{DELETED_ID}/").status_code == 410


def test_url_without_trailing_slash_redirects_like_flask(client: httpx.Client, mirror: MirrorServer) -> None:
    response = client.get(f"/api/1/datasets/{ACCIDENTS_ID}", params={"x": "1"})
    assert response.status_code == 308
    assert response.headers["location"] == f"{mirror.api_url}/1/datasets/{ACCIDENTS_ID}/?x=1"


def test_one_resource_v1(client: httpx.Client) -> None:
    dataset = client.get(f"/api/1/datasets/{ACCIDENTS_ID}/").json()
    resource = client.get(f"/api/1/datasets/{ACCIDENTS_ID}/resources/{dataset['resources'][1]['id']}/").json()
    assert resource == dataset["resources"][1]
    missing = client.get(f"/api/1/datasets/{ACCIDENTS_ID}/resources/{GARES_CSV_RID}/")
    assert (missing.status_code, missing.json()["message"]) == (404, "Resource not found")


def test_v2_dataset_links_its_resources(client: httpx.Client, mirror: MirrorServer) -> None:
    v1 = client.get(f"/api/1/datasets/{ACCIDENTS_ID}/").json()
    v2 = client.get(f"/api/2/datasets/{ACCIDENTS_ID}/").json()
    assert v2["resources"] == {
        "rel": "subsection",
        "href": f"{mirror.api_url}/2/datasets/{ACCIDENTS_ID}/resources/?page=1&page_size=50",
        "type": "GET",
        "total": 4,
    }
    assert {k: v for k, v in v2.items() if k not in ("resources", "community_resources")} == {
        k: v for k, v in v1.items() if k != "resources"
    }
    linked = client.get(v2["resources"]["href"]).json()
    assert set(linked) == ENVELOPE_KEYS
    assert linked["data"] == v1["resources"]
    community = client.get(v2["community_resources"]["href"]).json()
    assert community["total"] == 0


def test_v2_resources_pages_and_filters(client: httpx.Client) -> None:
    url: str | None = f"/api/2/datasets/{ACCIDENTS_ID}/resources/?page_size=1"
    ids = []
    while url:
        page = client.get(url).json()
        assert page["page_size"] == 1 and page["total"] == 4
        ids += [r["id"] for r in page["data"]]
        url = page["next_page"]
    dataset = client.get(f"/api/1/datasets/{ACCIDENTS_ID}/").json()
    assert ids == [r["id"] for r in dataset["resources"]]

    docs = client.get(f"/api/2/datasets/{ACCIDENTS_ID}/resources/", params={"type": "documentation"}).json()
    assert [r["format"] for r in docs["data"]] == ["pdf"]
    found = client.get(f"/api/2/datasets/{ACCIDENTS_ID}/resources/", params={"q": "caracteristiques"}).json()
    assert [r["title"] for r in found["data"]] == ["Caractéristiques - 2023"]
    assert client.get(f"/api/2/datasets/{ACCIDENTS_ID}/resources/", params={"page_size": 0}).status_code == 400


def test_v2_resource_by_id(client: httpx.Client) -> None:
    answer = client.get(f"/api/2/datasets/resources/{GARES_CSV_RID}/").json()
    assert set(answer) == {"resource", "dataset_id"}
    assert answer["resource"]["id"] == GARES_CSV_RID
    assert answer["dataset_id"] == "581c510f9f9d1d436acab664"
    assert client.get("/api/2/datasets/resources/00000000-0000-4000-8000-000000000000/").status_code == 404


# --- redirects and files ---


def test_resource_redirect_points_at_the_file(client: httpx.Client, mirror: MirrorServer) -> None:
    resource = mirror.catalog.resource(GARES_CSV_RID)[1]  # type: ignore[index]
    for path in (f"/api/1/datasets/r/{GARES_CSV_RID}", f"/fr/datasets/r/{GARES_CSV_RID}"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["location"] == mirror.url_of(resource["url"])
    missing = client.get("/api/1/datasets/r/00000000-0000-4000-8000-000000000000")
    assert (missing.status_code, missing.json()) == (404, {"message": "Resource not found"})


def test_latest_url_downloads_the_file_through_one_redirect(client: httpx.Client) -> None:
    resource = client.get(f"/api/2/datasets/resources/{GARES_CSV_RID}/").json()["resource"]
    response = client.get(resource["latest"], follow_redirects=True)
    assert response.status_code == 200
    assert len(response.history) == 1
    assert hashlib.sha1(response.content).hexdigest() == resource["checksum"]["value"]
    assert int(response.headers["content-length"]) == resource["filesize"]
    assert response.headers["content-type"] == "text/csv"
    assert response.headers["etag"] == f'"{resource["checksum"]["value"]}"'
    assert response.headers["last-modified"] == "Mon, 15 Jan 2024 13:22:08 GMT"


def test_remote_resource_on_a_datagouv_link_redirects_to_another_file(client: httpx.Client) -> None:
    resource = client.get(f"/api/2/datasets/resources/{GARES_REMOTE_RID}/").json()["resource"]
    assert resource["filetype"] == "remote" and resource["checksum"] is None
    response = client.get(resource["url"], follow_redirects=True)
    assert len(response.history) == 1
    assert hashlib.sha1(response.content).hexdigest() == resource["extras"]["analysis:checksum"]


def test_every_file_resource_downloads_with_its_checksum(client: httpx.Client, mirror: MirrorServer) -> None:
    for dataset in mirror.catalog.datasets():
        for resource in dataset["resources"]:
            if resource["filetype"] != "file":
                continue
            digest = hashlib.sha1()
            with client.stream("GET", mirror.url_of(resource["url"])) as response:
                assert response.status_code == 200
                for chunk in response.iter_bytes():
                    digest.update(chunk)
            assert digest.hexdigest() == resource["checksum"]["value"], resource["url"]


def test_head_and_conditional_get_on_a_file(client: httpx.Client, mirror: MirrorServer) -> None:
    resource = mirror.catalog.resource(GARES_CSV_RID)[1]  # type: ignore[index]
    url = mirror.url_of(resource["url"])
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == resource["filesize"]
    unchanged = client.get(url, headers={"If-None-Match": head.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""


# --- rewriting, unknown paths, records ---


def test_production_hosts_are_rewritten_in_every_answer(client: httpx.Client, mirror: MirrorServer) -> None:
    texts = [
        client.get("/api/1/datasets/").text,
        client.get(f"/api/2/datasets/{ACCIDENTS_ID}/").text,
        client.get(f"/api/2/datasets/{ACCIDENTS_ID}/resources/").text,
        client.get(f"/api/2/datasets/resources/{GARES_CSV_RID}/").text,
    ]
    for text in texts:
        assert "static.data.gouv.fr" not in text and "www.data.gouv.fr" not in text
        assert mirror.base_url in text
    ban = client.get("/api/1/datasets/5530fbacc751df5ff937dddb/").json()
    assert ban["resources"][0]["url"] == "https://adresse.data.gouv.fr/donnees-nationales"  # other hosts kept


def test_unknown_paths_and_methods(client: httpx.Client) -> None:
    for path in ("/api/1/nothing/", "/resources/nope/20240101-000000/file.csv", "/"):
        response = client.get(path)
        assert (response.status_code, response.json()) == (404, {"message": "Not found"})
    assert client.post("/api/1/datasets/", json={}).status_code == 405


def test_requests_are_recorded() -> None:
    with MirrorServer() as mirror, httpx.Client(base_url=mirror.base_url) as client:
        client.get("/api/1/datasets/", params={"q": "gares", "page_size": 1})
        client.get("/api/1/datasets/nope/")
    first, second = mirror.requests
    assert (first.method, first.path, first.status) == ("GET", "/api/1/datasets/", 200)
    assert first.params == {"q": ["gares"], "page_size": ["1"]}
    assert first.bytes_sent > 0
    assert (second.path, second.status) == ("/api/1/datasets/nope/", 404)
    assert "user-agent" in first.headers


# --- datasets added at run time ---


def test_added_dataset_is_searchable_and_downloadable() -> None:
    content = "code;libellé\n01;Ain\n".encode()
    dataset = {
        "id": "65f0a1b2c3d4e5f6a7b8c9d0",
        "slug": "departements-de-test",
        "title": "Départements de test",
        "tags": ["test"],
        "resources": [{"id": "0e7a4c4e-6a1b-4a1e-9d55-2f6a7c1b3e10", "title": "Départements", "format": "csv"}],
    }
    with MirrorServer() as mirror, httpx.Client(base_url=mirror.base_url) as client:
        stored = mirror.add_dataset(dataset, {"0e7a4c4e-6a1b-4a1e-9d55-2f6a7c1b3e10": content})
        resource = stored["resources"][0]
        assert resource["filesize"] == len(content)
        assert resource["checksum"] == {"type": "sha1", "value": hashlib.sha1(content).hexdigest()}

        found = client.get("/api/1/datasets/", params={"tag": "test"}).json()
        assert [d["id"] for d in found["data"]] == [dataset["id"]]
        download = client.get(found["data"][0]["resources"][0]["latest"], follow_redirects=True)
        assert download.content == content

        mirror.add_dataset({**dataset, "deleted": "2024-05-01T00:00:00+00:00"}, {})
        assert client.get(f"/api/1/datasets/{dataset['id']}/").status_code == 410
        assert client.get("/api/1/datasets/", params={"tag": "test"}).json()["total"] == 0
