"""Canonical format, content-addressed store (file and memory backends) and ingest round trips."""

from __future__ import annotations

import io
import json
import uuid

import numpy as np
import pytest
from PIL import Image

from zeikan.images.canonical import CANONICAL_PITCH_MM, CanonicalImage, ImageMeta, decode, encode
from zeikan.images.errors import CalibrationError, CorruptImageError, ImageNotFoundError, UnknownStoreError
from zeikan.images.ingest import Calibration, ScanInfo, ingest_8bit, ingest_raw16
from zeikan.images.labels import Box, ImageLabel, latest_verdict
from zeikan.images.store import open_store, store_of_uri


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    """A fresh store on each backend."""
    url = str(tmp_path / "store") if request.param == "file" else f"memory://zeikan-test-{uuid.uuid4().hex}"
    return open_store(url)


def _meta(**over) -> ImageMeta:
    base = dict(scan_id="S1", container_id="MSCU1234565", scanner_model="Aster-6", energies_kv=(4000, 6000),
                calibration_id="cal-1", source_format="render")
    base.update(over)
    return ImageMeta(**base)


def _image(seed: int = 0) -> CanonicalImage:
    pixels = np.random.default_rng(seed).integers(0, 65535, size=(2, 30, 70), dtype=np.uint16)
    return CanonicalImage(pixels, _meta())


def _png(grey: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(grey.astype(np.uint8), mode="L").save(buf, format=fmt)
    return buf.getvalue()


def test_encode_decode_exact_and_deterministic():
    img = _image()
    data = encode(img)
    back = decode(data)
    assert np.array_equal(back.pixels, img.pixels) and back.meta == img.meta
    assert encode(back) == data


def test_same_bytes_same_address(store):
    img = _image()
    a, b = store.put(img), store.put(_image())
    assert a == b and store_of_uri(a.uri).get(a.sha256).meta == img.meta
    assert store.put(_image(seed=1)).sha256 != a.sha256
    assert list(store.ls()) == sorted([a.sha256, store.put(_image(seed=1)).sha256])


def test_png_round_trip_pixels_and_metadata_exact(store):
    grey = np.random.default_rng(3).integers(0, 256, size=(20, 40))
    info = ScanInfo("S9", "TGHU0000011", "Borealis-8", (CANONICAL_PITCH_MM, CANONICAL_PITCH_MM), (6000,), "cal-b")
    canonical = ingest_8bit(_png(grey), info)
    expected = np.rint(-np.log((grey + 0.5) / 256.0) * canonical.meta.attenuation_scale)
    assert np.array_equal(canonical.pixels[0], expected.astype(np.uint16))
    inverted = ingest_8bit(_png(255 - grey), info, inverted=True)
    assert np.array_equal(inverted.pixels, canonical.pixels) and inverted.meta.source_format == "8bit-inverted"
    back = store.get(store.put(canonical).uri)
    assert np.array_equal(back.pixels, canonical.pixels) and back.meta == canonical.meta
    assert back.meta.scanner_model == "Borealis-8" and back.meta.energies_kv == (6000,)


def test_jpeg_is_accepted():
    grey = np.full((16, 16), 128)
    info = ScanInfo("S2", "C", "m", (5.0, 5.0))
    canonical = ingest_8bit(_png(grey, "JPEG"), info)
    assert canonical.pixels.shape == (1, 8, 8)


def _calibration(**over) -> Calibration:
    raw = dict(calibration_id="cal-c", scanner_model="Cobalt-12", energies_kv=[4000, 6000], pitch_mm=[10, 5],
               dark=[100, 120], open_beam=[60100, 50120], curve=[[0, 0], [4, 4.4], [8, 9.0]])
    raw.update(over)
    return Calibration.from_json(json.dumps(raw))


def test_raw16_with_calibration_round_trip(store):
    cal = _calibration()
    true_att = np.random.default_rng(5).uniform(0.1, 5.0, size=(2, 12, 24))
    measured = np.interp(true_att, [0, 4.4, 9.0], [0, 4, 8])
    dark = np.array([100, 120]).reshape(2, 1, 1)
    span = np.array([60000, 50000]).reshape(2, 1, 1)
    raw = np.rint(dark + span * np.exp(-measured)).astype("<u2")
    canonical = ingest_raw16(raw.tobytes(), 24, 12, cal, scan_id="S3", container_id="C3")
    assert canonical.pixels.shape == (2, 12, 12)  # x pitch 5 mm -> 10 mm
    approx = canonical.attenuation()
    expected = true_att.reshape(2, 12, 12, 2).mean(axis=-1)
    assert np.allclose(approx, expected, atol=0.05)
    assert canonical.meta.calibration_id == "cal-c" and canonical.meta.energies_kv == (4000, 6000)
    back = store.get(store.put(canonical).sha256)
    assert np.array_equal(back.pixels, canonical.pixels) and back.meta == canonical.meta


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n\x1a\n garbage", b"not an image at all"])
def test_corrupt_8bit_is_a_clear_error(data):
    with pytest.raises(CorruptImageError, match="corrupt or truncated"):
        ingest_8bit(data, ScanInfo("S", "C", "m", (10.0, 10.0)))


def test_truncated_png_is_a_clear_error():
    data = _png(np.zeros((50, 50)))
    with pytest.raises(CorruptImageError):
        ingest_8bit(data[: len(data) // 2], ScanInfo("S", "C", "m", (10.0, 10.0)))


def test_truncated_raw16_and_canonical_are_clear_errors(store):
    with pytest.raises(CorruptImageError, match="expected"):
        ingest_raw16(b"\x00" * 100, 24, 12, _calibration(), scan_id="S", container_id="C")
    data = encode(_image())
    with pytest.raises(CorruptImageError):
        decode(data[:200])
    with pytest.raises(CorruptImageError):
        store.put_bytes(data[:-50])


@pytest.mark.parametrize("over", [dict(dark=[1]), dict(open_beam=[50, 60]), dict(curve=[[1, 1], [0, 2]]), dict(pitch_mm=[0, 1])])
def test_bad_calibration_is_a_clear_error(over):
    with pytest.raises(CalibrationError):
        _calibration(**over)
    with pytest.raises(CalibrationError, match="not JSON"):
        Calibration.from_json("{")


def test_labels_beside_image(store):
    sha = store.put(_image()).sha256
    first = ImageLabel(sha, "white", "inspection", "officer-7", 1_000, cls=None)
    second = ImageLabel(sha, "black", "seizure", "officer-9", 2_000, cls="wall", boxes=(Box(1, 2, 3, 4),))
    for label in (first, second, second):
        store.put_label(label)
    assert store.labels(sha) == [first, second]
    assert latest_verdict(store.labels(sha)) == "black"


def test_missing_and_unknown():
    store = open_store(f"memory://zeikan-test-{uuid.uuid4().hex}")
    with pytest.raises(ImageNotFoundError):
        store.get("0" * 64)
    with pytest.raises(UnknownStoreError):
        open_store("nosuch://x")
