"""The mirror's catalogue in memory: lookups by id or slug, search, and where each file's bytes are.

Datasets are kept exactly as the API returns them, with the production hosts in their URLs; the
server rewrites those when it answers. A resource's bytes are found from its ``url``: a URL on
``static.data.gouv.fr`` is served from the file of the same name in files/ (or from bytes given to
``add``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import mimetypes
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

Json = dict[str, Any]

STATIC_HOST = "https://static.data.gouv.fr"
WWW_HOST = "https://www.data.gouv.fr"
CHUNK_SIZE = 64 * 1024

# sort parameter -> key of a dataset; the API accepts each with a leading "-" for descending order
SORT_KEYS = {
    "title": lambda item: fold(item.get("title") or ""),
    "created": lambda item: item.get("created_at") or "",
    "last_update": lambda item: item.get("last_update") or item.get("last_modified") or "",
    "reuses": lambda item: (item.get("metrics") or {}).get("reuses", 0),
    "followers": lambda item: (item.get("metrics") or {}).get("followers", 0),
    "views": lambda item: (item.get("metrics") or {}).get("views", 0),
}


def fold(text: str) -> str:
    """Lower case without accents: how search compares words (``Fréquentation`` -> ``frequentation``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


@dataclass(frozen=True)
class StoredFile:
    """The bytes behind one static URL: a file in files/ or bytes a test registered."""

    resource: Json
    path: Path | None = None
    data: bytes | None = None

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size

    def exists(self) -> bool:
        return self.data is not None or (self.path is not None and self.path.is_file())

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Stream the content: files are read a chunk at a time, never whole."""
        if self.data is not None:
            for start in range(0, len(self.data), chunk_size):
                yield self.data[start : start + chunk_size]
            return
        assert self.path is not None
        with self.path.open("rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk


class Catalog:
    """Datasets by id and slug, resources by id, files by URL path. Safe to read while a test adds."""

    def __init__(self, files_dir: Path) -> None:
        self.files_dir = files_dir
        self._lock = threading.Lock()
        self._datasets: dict[str, Json] = {}
        self._slugs: dict[str, str] = {}
        self._resources: dict[str, tuple[Json, Json]] = {}
        self._files: dict[str, StoredFile] = {}

    @classmethod
    def load(cls, catalog_dir: Path, files_dir: Path) -> Catalog:
        catalog = cls(files_dir)
        datasets = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(catalog_dir.glob("*.json"))]
        for item in sorted(datasets, key=lambda item: item["created_at"]):
            catalog.add(item)
        return catalog

    # --- changes ---

    def add(self, dataset: Json, files: Mapping[str, bytes] | None = None) -> Json:
        """Add or replace a dataset. ``files`` maps a resource id or a file name to the bytes to serve.

        Replacing a dataset keeps the bytes given earlier for resources that ``files`` leaves out.
        """
        with self._lock:
            previous = self._datasets.get(dataset.get("id", ""))
            files = {**self._bytes_of(previous), **(files or {})}
            dataset = complete_dataset(copy.deepcopy(dataset), files)
            if previous is not None:
                self._forget(previous)
            self._datasets[dataset["id"]] = dataset
            self._slugs[dataset["slug"]] = dataset["id"]
            for resource in dataset["resources"]:
                self._resources[resource["id"]] = (dataset, resource)
                self._index_file(resource, files)
        return dataset

    def _bytes_of(self, dataset: Json | None) -> dict[str, bytes]:
        """Resource id -> bytes registered in memory for a dataset's resources."""
        found = {}
        for resource in (dataset or {}).get("resources", []):
            stored = self._files.get(static_path(resource.get("url")) or "")
            if stored is not None and stored.data is not None:
                found[resource["id"]] = stored.data
        return found

    def _forget(self, dataset: Json) -> None:
        self._slugs.pop(dataset["slug"], None)
        for resource in dataset["resources"]:
            self._resources.pop(resource["id"], None)
            path = static_path(resource.get("url"))
            if path is not None:
                self._files.pop(path, None)

    def _index_file(self, resource: Json, files: Mapping[str, bytes]) -> None:
        path = static_path(resource.get("url"))
        if path is None:
            return
        name = PurePosixPath(path).name
        data = files.get(resource["id"], files.get(name))
        if data is not None:
            self._files[path] = StoredFile(resource, data=data)
        else:
            self._files[path] = StoredFile(resource, path=self.files_dir / name)

    # --- lookups ---

    def datasets(self) -> list[Json]:
        """Every dataset, deleted ones included, in the order they were added."""
        return list(self._datasets.values())

    def dataset(self, id_or_slug: str) -> Json | None:
        dataset_id = id_or_slug if id_or_slug in self._datasets else self._slugs.get(id_or_slug)
        return self._datasets.get(dataset_id) if dataset_id else None

    def resource(self, rid: str) -> tuple[Json, Json] | None:
        """``(dataset, resource)`` for a resource id."""
        return self._resources.get(rid)

    def file_at(self, path: str) -> StoredFile | None:
        return self._files.get(path)

    def search(
        self,
        words: list[str],
        tags: list[str],
        organization: str | None,
        sort: str | None,
    ) -> list[Json]:
        """Visible datasets where every word and every tag matches; ``sort`` already validated."""
        wanted_words = [fold(word) for word in words]
        wanted_tags = {fold(tag) for tag in tags}
        found = []
        for item in self.datasets():
            if item.get("deleted") or item.get("private"):
                continue
            org = item.get("organization") or {}
            if organization and organization not in (org.get("id"), org.get("slug")):
                continue
            item_tags = {fold(tag) for tag in item.get("tags") or []}
            if not wanted_tags <= item_tags:
                continue
            text = fold(" ".join([item.get("title") or "", item.get("acronym") or "", item.get("description") or ""]))
            text += " " + " ".join(item_tags)
            if all(word in text for word in wanted_words):
                found.append(item)
        if sort:
            found.sort(key=SORT_KEYS[sort.lstrip("-")], reverse=sort.startswith("-"))
        return found


def local_path(url: str | None) -> str | None:
    """The path of a URL on one of the hosts the mirror stands in for, else None."""
    if not url or not url.startswith((STATIC_HOST + "/", WWW_HOST + "/")):
        return None
    return unquote(urlsplit(url).path)


def static_path(url: str | None) -> str | None:
    """The path of a file URL on static.data.gouv.fr, else None."""
    if not url or not url.startswith(STATIC_HOST + "/"):
        return None
    return unquote(urlsplit(url).path)


# --- filling in what a test leaves out -------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat()


def complete_dataset(dataset: Json, files: Mapping[str, bytes]) -> Json:
    """Give a dataset a test built by hand every field the API has, without overriding any it set."""
    if "id" not in dataset:
        raise ValueError("a dataset needs an 'id'")
    now = _now()
    slug = str(dataset.setdefault("slug", dataset["id"]))
    dataset.setdefault("title", slug)
    defaults: Json = {
        "acronym": None,
        "description": "",
        "created_at": now,
        "deleted": None,
        "private": False,
        "tags": [],
        "badges": [],
        "resources": [],
        "frequency": "unknown",
        "frequency_date": None,
        "extras": {},
        "harvest": None,
        "metrics": {"discussions": 0, "followers": 0, "reuses": 0, "views": 0, "resources_downloads": 0},
        "organization": None,
        "owner": None,
        "schema": None,
        "temporal_coverage": None,
        "spatial": None,
        "license": "notspecified",
        "access_type": "open",
        "uri": f"{WWW_HOST}/api/1/datasets/{slug}/",
        "page": f"{WWW_HOST}/fr/datasets/{slug}/",
        "archived": None,
        "quality": {"score": 0.0},
        "contact_points": [],
        "featured": False,
    }
    for key, default in defaults.items():
        dataset.setdefault(key, default)
    dataset["resources"] = [complete_resource(resource, slug, files) for resource in dataset["resources"]]
    dataset.setdefault("description_short", dataset["description"][:200])
    modified = [resource["last_modified"] for resource in dataset["resources"]]
    dataset.setdefault("last_modified", max(modified, default=dataset["created_at"]))
    dataset.setdefault("last_update", dataset["last_modified"])
    dataset.setdefault(
        "internal",
        {"created_at_internal": dataset["created_at"], "last_modified_internal": dataset["last_modified"]},
    )
    return dataset


def complete_resource(resource: Json, dataset_slug: str, files: Mapping[str, bytes]) -> Json:
    if "id" not in resource:
        raise ValueError("a resource needs an 'id'")
    rid = resource["id"]
    now = _now()
    resource.setdefault("created_at", now)
    resource.setdefault("last_modified", resource["created_at"])
    if "url" not in resource:
        name = f"{rid}.{(resource.get('format') or 'bin').lower()}"
        stamp = datetime.fromisoformat(resource["last_modified"]).strftime("%Y%m%d-%H%M%S")
        resource["url"] = f"{STATIC_HOST}/resources/{dataset_slug}/{stamp}/{name}"
    name = PurePosixPath(urlsplit(resource["url"]).path).name
    data = files.get(rid, files.get(name))
    defaults: Json = {
        "title": name,
        "description": "",
        "filetype": "file" if static_path(resource["url"]) else "remote",
        "type": "main",
        "format": PurePosixPath(name).suffix.lstrip(".") or None,
        "latest": f"{WWW_HOST}/fr/datasets/r/{rid}",
        "checksum": {"type": "sha1", "value": hashlib.sha1(data).hexdigest()} if data is not None else None,
        "filesize": len(data) if data is not None else None,
        "mime": mimetypes.guess_type(name)[0],
        "metrics": {"views": 0},
        "harvest": None,
        "extras": {},
        "preview_url": None,
        "schema": None,
    }
    for key, default in defaults.items():
        resource.setdefault(key, default)
    resource.setdefault(
        "internal",
        {"created_at_internal": resource["created_at"], "last_modified_internal": resource["last_modified"]},
    )
    return resource
