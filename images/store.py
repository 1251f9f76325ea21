"""Content-addressed image store: sha256 of the canonical bytes -> object, labels beside it.

Layout under the store URL::

    objects/<sha[:2]>/<sha>.tif          canonical images
    labels/<sha>/<label_id>.json         labels of that image (one object per label)
    blobs/<sha[:2]>/<sha>.<ext>          derived artefacts (heatmaps), also content-addressed

:class:`ImageStore` holds the logic on top of four storage primitives;
:class:`FsspecImageStore` implements them for any fsspec URL. Backends are chosen
by URL scheme through :data:`BACKENDS` (plain paths mean ``file://``), so
on-premises disk or S3 is configuration, not code. ``ZEIKAN_S3_ENDPOINT`` points
``s3://`` at a server other than AWS (such as the local one of ``zeikan broker``);
credentials come from the standard AWS chain (``AWS_ACCESS_KEY_ID``, ...).
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

import fsspec

from zeikan.images.canonical import CanonicalImage, decode, encode
from zeikan.images.errors import ImageNotFoundError, UnknownStoreError
from zeikan.images.labels import ImageLabel

DEFAULT_STORE_URL = "var/images"
_AREAS = ("/objects/", "/blobs/", "/labels/")


@dataclass(frozen=True)
class StoredImage:
    """Where a canonical image landed: its URI (the claim check in ScanCompleted) and address."""

    uri: str
    sha256: str


class ImageStore(ABC):
    """A content-addressed store of canonical images, their labels and derived blobs."""

    url: str

    @abstractmethod
    def _write(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def _read(self, key: str) -> bytes | None: ...

    @abstractmethod
    def _exists(self, key: str) -> bool: ...

    @abstractmethod
    def _list(self, prefix: str) -> list[str]: ...

    def _uri(self, key: str) -> str:
        return f"{self.url}/{key}"

    def key_of(self, ref: str) -> str:
        """The object key of a sha256 or a URI of this store."""
        if ref.startswith(self.url + "/"):
            return ref[len(self.url) + 1 :]
        if len(ref) == 64 and all(c in "0123456789abcdef" for c in ref):
            return f"objects/{ref[:2]}/{ref}.tif"
        raise ImageNotFoundError(ref, self.url)

    def put_bytes(self, data: bytes) -> StoredImage:
        """Store canonical TIFF bytes (validated) at their sha256; storing twice is a no-op."""
        decode(data)
        sha = hashlib.sha256(data).hexdigest()
        key = f"objects/{sha[:2]}/{sha}.tif"
        if not self._exists(key):
            self._write(key, data)
        return StoredImage(self._uri(key), sha)

    def put(self, image: CanonicalImage) -> StoredImage:
        """Encode and store a canonical image."""
        return self.put_bytes(encode(image))

    def get_bytes(self, ref: str) -> bytes:
        """Raw bytes of an object by sha256 or URI."""
        data = self._read(self.key_of(ref))
        if data is None:
            raise ImageNotFoundError(ref, self.url)
        return data

    def get(self, ref: str) -> CanonicalImage:
        """A canonical image by sha256 or URI."""
        return decode(self.get_bytes(ref), source=ref)

    def __contains__(self, ref: str) -> bool:
        try:
            return self._exists(self.key_of(ref))
        except ImageNotFoundError:
            return False

    def ls(self) -> Iterator[str]:
        """sha256 of every stored image, sorted."""
        keys = self._list("objects")
        yield from sorted(k.rsplit("/", 1)[-1].removesuffix(".tif") for k in keys if k.endswith(".tif"))

    def put_label(self, label: ImageLabel) -> None:
        """Store a label beside its image (idempotent: labels are content-addressed)."""
        self._write(f"labels/{label.image_sha256}/{label.label_id}.json", label.to_json().encode())

    def labels(self, sha256: str) -> list[ImageLabel]:
        """All labels of an image, oldest first."""
        keys = self._list(f"labels/{sha256}")
        found = [ImageLabel.from_json((self._read(k) or b"").decode()) for k in keys if k.endswith(".json")]
        return sorted(found, key=lambda lb: (lb.labelled_at, lb.label_id))

    def put_blob(self, data: bytes, ext: str) -> str:
        """Store a derived artefact (e.g. a PNG heatmap) by content; returns its URI."""
        sha = hashlib.sha256(data).hexdigest()
        key = f"blobs/{sha[:2]}/{sha}.{ext}"
        if not self._exists(key):
            self._write(key, data)
        return self._uri(key)


class FsspecImageStore(ImageStore):
    """An :class:`ImageStore` on any fsspec filesystem (file, memory, s3, gcs, ...)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **storage_options(self.url))

    def _path(self, key: str) -> str:
        return f"{self.root.rstrip('/')}/{key}"

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.part"
        self.fs.pipe_file(tmp, data)
        self.fs.mv(tmp, path)

    def _read(self, key: str) -> bytes | None:
        try:
            return self.fs.cat_file(self._path(key))
        except FileNotFoundError:
            return None

    def _exists(self, key: str) -> bool:
        return self.fs.exists(self._path(key))

    def _list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not self.fs.exists(base):
            return []
        strip = len(self.root.rstrip("/")) + 1
        return [p[strip:] if p.startswith(self.root.rstrip("/")) else p for p in self.fs.find(base)]


def storage_options(url: str, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """fsspec options for ``url`` from the environment: the S3 endpoint (``ZEIKAN_S3_ENDPOINT``)."""
    endpoint = env.get("ZEIKAN_S3_ENDPOINT")
    if endpoint and url.split("://", 1)[0] in ("s3", "s3a"):
        return {"endpoint_url": endpoint}
    return {}


def _fsspec_backend(url: str) -> ImageStore:
    return FsspecImageStore(url)


BACKENDS: dict[str, Callable[[str], ImageStore]] = {
    scheme: _fsspec_backend for scheme in ("file", "memory", "s3", "s3a", "gs", "gcs", "az", "abfs")
}
"""URL scheme -> store factory. Register another backend by adding a scheme here."""


def normalize_url(url: str) -> str:
    """Plain paths become absolute ``file://`` URLs; others lose a trailing slash."""
    if "://" not in url:
        return "file://" + os.path.abspath(url)
    return url.rstrip("/")


@lru_cache(maxsize=32)
def open_store(url: str = DEFAULT_STORE_URL) -> ImageStore:
    """The store at ``url``, its backend chosen by URL scheme."""
    url = normalize_url(url)
    scheme = url.split("://", 1)[0]
    factory = BACKENDS.get(scheme)
    if factory is None:
        raise UnknownStoreError(url, list(BACKENDS))
    return factory(url)


def store_of_uri(uri: str) -> ImageStore:
    """The store holding an object URI (as found in ``ScanCompleted.image_uri``)."""
    for area in _AREAS:
        if area in uri:
            return open_store(uri.split(area, 1)[0])
    raise ImageNotFoundError(uri, "<no store: URI has no objects/, blobs/ or labels/ part>")
