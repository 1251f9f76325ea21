"""Issue 11 item 5: a scan's image_uri reads only the configured store's own objects, and a refused image never releases."""

from __future__ import annotations

import os

import pytest

from zeikan.images.errors import ImageError, ImageReferenceError
from zeikan.images.references import ImageReferences, open_configured_store
from zeikan.images.store import open_store
from zeikan.models.base import ImageAssessment
from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer
from zeikan.sim.xray import render
from zeikan.sim.xray_loads import Goods, XrayLoad
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.post_scan import post_scan_decision

SECRET = b"TOPSECRET-credentials-do-not-leak"


@pytest.fixture()
def store_with_secret(tmp_path):
    """A local store with one real image, and a secret file beside the store that no scan may read."""
    store = open_store(str(tmp_path / "store"))
    load = XrayLoad("S1", "MSCU0000015", "Aster-6MV", 20, (Goods("610910", "shirts", 1, 3000.0, "organic"),), seed=1)
    stored = store.put(render(load).image)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    return store, stored, tmp_path


def _hostile_uris(store, stored, tmp_path) -> dict[str, str]:
    sha = stored.sha256
    objects = tmp_path / "store" / "objects"
    (objects / "ab").mkdir(parents=True, exist_ok=True)
    os.symlink(tmp_path / "secret.txt", objects / "ab" / ("ab" + "c" * 62 + ".tif"))
    (objects / "cd" / ("cd" + "e" * 62 + ".tif")).mkdir(parents=True)
    return {
        "traversal": f"{store.url}/objects/../../secret.txt",
        "traversal in the key": f"{store.url}/objects/{sha[:2]}/../../../secret.txt",
        "absolute path outside": (tmp_path / "secret.txt").as_uri(),
        "plain absolute path": str(tmp_path / "secret.txt"),
        "another scheme": "http://evil.example/objects/aa/" + "a" * 64 + ".tif",
        "another store": f"memory://other/objects/{sha[:2]}/{sha}.tif",
        "symlink out of the store": f"{store.url}/objects/ab/ab{'c' * 62}.tif",
        "a directory": f"{store.url}/objects/cd/cd{'e' * 62}.tif",
    }


def test_hostile_references_are_refused_before_any_byte_is_read(store_with_secret):
    store, stored, tmp_path = store_with_secret
    refs = ImageReferences(store)
    for name, uri in _hostile_uris(store, stored, tmp_path).items():
        with pytest.raises(ImageReferenceError):
            refs.read(uri)
    assert refs.read(stored.uri)[:2] in (b"II", b"MM")


def test_an_object_over_the_size_limit_is_refused_from_its_metadata(store_with_secret):
    store, stored, _ = store_with_secret
    size = len(store.get_bytes(stored.uri))
    with pytest.raises(ImageReferenceError, match=f"{size} bytes, more than the limit of {size - 1}"):
        ImageReferences(store, max_bytes=size - 1).read(stored.uri)


def test_no_byte_of_a_hostile_file_reaches_the_decision_and_nothing_is_released(store_with_secret):
    store, stored, tmp_path = store_with_secret
    scorer = OnnxImageScorer(ImageScorerSettings(store_url=store.url))
    uris = _hostile_uris(store, stored, tmp_path)
    scans = [{"scan_id": f"S{i}", "container_id": "MSCU0000015", "image_uri": uri, "image_sha256": "", "scanned_at": 2}
             for i, uri in enumerate(uris.values())]
    found = scorer.assess_batch(scans, [[]] * len(scans))
    scorer.close()
    assert all(a.anomaly_score is None and a.unassessed == "image_refused" for a in found)
    opened = {"declaration_id": "D1", "office_id": "O1", "filed_at": 1, "tabular": 0.1, "rules_score": 0.0,
              "rule_hits": [], "rule_floor": None, "random_selected": False, "versions": {"tabular": "t"}, "pre_decision_id": "P1"}
    decision = post_scan_decision(opened, scans, found, scorer.version, EngineConfig(), 3)
    text = repr(decision)
    assert "TOPSECRET" not in text and SECRET[:4].decode() not in text.replace("TOPSECRET", "")
    assert decision["action"] == "SCAN" and decision["scores"]["image"] is None and decision["image_evidence"] == []
    assert all(r.endswith("analyst review") for r in decision["reasons"])


def test_unreadable_images_never_lower_the_lane_and_the_policy_is_explicit():
    scans = [{"scan_id": "S1", "scanned_at": 2}, {"scan_id": "S2", "scanned_at": 3}]
    clean = ImageAssessment("S1", "C1", 0.05)
    broken = ImageAssessment.not_assessed({"scan_id": "S2", "container_id": "C2"}, "image_refused", "image unreadable: analyst review")
    opened = {"declaration_id": "D1", "office_id": "O1", "filed_at": 1, "tabular": 0.1, "rules_score": 0.0,
              "rule_hits": [], "rule_floor": None, "random_selected": False, "versions": {}, "pre_decision_id": "P1"}
    assert post_scan_decision(opened, scans, [clean, ImageAssessment("S2", "C2", 0.1)], "m", EngineConfig(), 4)["action"] == "RELEASE"
    held = post_scan_decision(opened, scans, [clean, broken], "m", EngineConfig(), 4)
    assert held["action"] == "SCAN" and held["scores"]["image"] == 0.05
    assert [e["scan_id"] for e in held["image_evidence"]] == ["S1"]
    exam = EngineConfig.from_mapping({"image_review_action": "PHYSICAL_EXAM"})
    assert post_scan_decision(opened, scans, [clean, broken], "m", exam, 4)["action"] == "PHYSICAL_EXAM"


def test_a_store_whose_library_is_missing_is_a_clear_startup_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_s3fs(name, *args, **kwargs):
        if name.startswith("s3fs"):
            raise ImportError("No module named 's3fs'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_s3fs)
    open_store.cache_clear()
    with pytest.raises(ImageError, match=r"needs the s3:// filesystem library.*pip install s3fs"):
        open_configured_store("s3://bucket/images")
    open_store.cache_clear()
