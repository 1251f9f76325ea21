"""Sandboxed reading of a scan's ``image_uri``: only the configured store's own objects, size-limited.

A ``ScanCompleted.image_uri`` comes from outside (any producer on the ``scans``
topic). :class:`ImageReferences` accepts it only when it is exactly
``<store url>/objects/<2 hex>/<64 hex>.tif`` of the one configured store: no
other scheme or store, no ``..`` or other path tricks (the key is matched
whole), no symlink leading out of a local store, no directory, and no object
larger than ``max_bytes`` (checked from the object's metadata before a byte is
read). Anything else raises :class:`~zeikan.images.errors.ImageReferenceError`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from zeikan.images.errors import ImageError, ImageReferenceError
from zeikan.images.store import FsspecImageStore, ImageStore, normalize_url, open_store

DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024
"""largest canonical image read (a 40 ft dual-energy scan is ~1-2 MB)"""
_OBJECT_KEY = re.compile(r"objects/([0-9a-f]{2})/(\1[0-9a-f]{62})\.tif")
_LOCAL = ("file", "local")


def open_configured_store(url: str) -> ImageStore:
    """The configured image store; a backend whose library is missing is a clear startup error."""
    try:
        return open_store(url)
    except ImportError as exc:
        scheme = normalize_url(url).split("://", 1)[0]
        raise ImageError(
            f"image store {url!r} needs the {scheme}:// filesystem library, which is not installed ({exc}); "
            f"install it (e.g. pip install s3fs for s3://) or set ZEIKAN_IMAGE_STORE to a local path"
        ) from exc


@dataclass(frozen=True)
class ImageReferences:
    """Resolves and reads ``image_uri`` values inside one store (see the module docstring)."""

    store: ImageStore
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES

    def key(self, uri: str) -> str:
        """The object key of ``uri``, or :class:`ImageReferenceError` if it is not one of this store's images."""
        prefix = self.store.url + "/"
        if not isinstance(uri, str) or not uri.startswith(prefix):
            raise ImageReferenceError(str(uri), "not an object of the configured image store")  # its URL stays out of decisions
        key = uri[len(prefix) :]
        if not _OBJECT_KEY.fullmatch(key):
            raise ImageReferenceError(uri, "not a canonical image address (objects/<sha[:2]>/<sha256>.tif)")
        return key

    def _check_object(self, uri: str, key: str) -> None:
        if not isinstance(self.store, FsspecImageStore):
            return
        fs, path = self.store.fs, f"{self.store.root.rstrip('/')}/{key}"
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        if protocol in _LOCAL:
            real, root = os.path.realpath(path), os.path.realpath(self.store.root)
            if os.path.commonpath([real, root]) != root:
                raise ImageReferenceError(uri, "the object is a link that leads out of the image store")
        try:
            info = fs.info(path)
        except FileNotFoundError as exc:
            raise ImageReferenceError(uri, "no such object in the image store") from exc
        if info.get("type") != "file":
            raise ImageReferenceError(uri, f"the object is a {info.get('type')}, not a file")
        size = int(info.get("size") or 0)
        if size > self.max_bytes:
            raise ImageReferenceError(uri, f"the object has {size} bytes, more than the limit of {self.max_bytes}")

    def read(self, uri: str) -> bytes:
        """The bytes of a sandboxed reference (checked before reading)."""
        key = self.key(uri)
        self._check_object(uri, key)
        data = self.store.get_bytes(uri)
        if len(data) > self.max_bytes:  # the object grew between the check and the read
            raise ImageReferenceError(uri, f"the object has more than {self.max_bytes} bytes")
        return data
