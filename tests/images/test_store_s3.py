"""The image store contract on ``s3://`` against a real local S3 server (rclone, as
``zeikan broker`` runs it): the very tests of ``test_images_store.py`` that take a
``store`` run here with an S3 store, plus a byte-exact sha256 round trip."""

from __future__ import annotations

import hashlib
import inspect
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import tests.images.test_images_store as contract
from zeikan.images.canonical import CanonicalImage, ImageMeta
from zeikan.images.store import ImageStore, open_store, store_of_uri
from zeikan.streams.kafka.local_s3 import LocalS3Server

pytestmark = pytest.mark.integration

globals().update(
    {name: test for name, test in vars(contract).items()
     if name.startswith("test_") and "store" in inspect.signature(test).parameters}
)  # fmt: skip
"""Every store test of the local-directory contract, collected here again with the s3 ``store`` below."""


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3Server]:
    with LocalS3Server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture
def store(s3_server: LocalS3Server, monkeypatch: pytest.MonkeyPatch) -> ImageStore:
    """A fresh store in a bucket of its own on the local S3 server."""
    monkeypatch.setenv("ZEIKAN_S3_ENDPOINT", s3_server.endpoint)
    for name, value in s3_server.credentials.env().items():
        monkeypatch.setenv(name, value)
    return open_store(s3_server.bucket(f"images-{uuid.uuid4().hex[:12]}"))


def test_images_put_to_s3_read_back_identical_by_sha256(store: ImageStore, s3_server: LocalS3Server) -> None:
    rng = np.random.default_rng(7)
    meta = ImageMeta(scan_id="S1", container_id="MSCU1234565", scanner_model="Aster-6", energies_kv=(4000, 6000),
                     calibration_id="cal-1", source_format="render")  # fmt: skip
    images = [CanonicalImage(rng.integers(0, 65535, size=(2, 40, 90), dtype=np.uint16), meta) for _ in range(5)]
    stored = [store.put(image) for image in images]
    assert all(s.uri.startswith("s3://") for s in stored)
    for image, put in zip(images, stored, strict=True):
        data = store_of_uri(put.uri).get_bytes(put.uri)
        assert hashlib.sha256(data).hexdigest() == put.sha256
        assert np.array_equal(store.get(put.sha256).pixels, image.pixels)
    bucket = store.url.removeprefix("s3://")
    on_disk = {p.stem: p for p in Path(s3_server.root, bucket, "objects").rglob("*.tif")}
    assert set(on_disk) == {s.sha256 for s in stored}, "the objects are plain files in the data directory"
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() == p.stem for p in on_disk.values())
    assert list(store.ls()) == sorted(on_disk)


def test_the_server_refuses_unsigned_and_wrongly_signed_requests(store: ImageStore, s3_server: LocalS3Server) -> None:
    import s3fs

    put = store.put(CanonicalImage(np.zeros((1, 8, 8), dtype=np.uint16), ImageMeta(scan_id="S", container_id="C",
                    scanner_model="m", energies_kv=(6000,), calibration_id="c", source_format="render")))
    path = put.uri.removeprefix("s3://")
    right = s3_server.credentials
    assert s3fs.S3FileSystem(key=right.access_key_id, secret=right.secret_access_key, endpoint_url=s3_server.endpoint,
                             skip_instance_cache=True).cat_file(path) == store.get_bytes(put.sha256)
    for options in ({"anon": True}, {"key": right.access_key_id, "secret": right.secret_access_key[::-1]}):
        intruder = s3fs.S3FileSystem(endpoint_url=s3_server.endpoint, skip_instance_cache=True, **options)
        with pytest.raises(OSError, match="Forbidden|Bad Request"):  # PermissionError / 400, never the bytes
            intruder.cat_file(path)
