"""Versioned model registry on any fsspec URL (a local directory by default).

Layout under the root::

    <version>/model.txt       LightGBM text model
    <version>/metadata.json   version, features, calibration, training window, metrics, data hash,
                              feature_bins (training distribution per feature, for drift)
    LIVE                      the promoted version (one line; cheap to poll for hot reload)
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import fsspec
import lightgbm as lgb

from zeikan.models.errors import ModelNotFoundError, NoLiveModelError
from zeikan.models.training import Calibration, TrainedModel

DEFAULT_REGISTRY = "var/registry"
"""Registry used when no URL is given."""
LIVE_FILE = "LIVE"


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one version (its metadata.json)."""

    version: str
    features: list[str]
    categorical: list[str]
    calibration: dict[str, float]
    window: dict[str, int]
    metrics: dict[str, float]
    data_hash: str
    created_at: int
    feature_bins: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    """Training bins per feature (``zeikan.models.drift.ReferenceBins.to_json()``); empty for older models."""
    promotion: dict[str, Any] = field(default_factory=dict)
    """The continuous-learning decision about this candidate (``PromotionDecision.to_json()``); empty otherwise."""


class ModelRegistry:
    """Register, list, load and promote tabular models."""

    def __init__(self, url: str = DEFAULT_REGISTRY) -> None:
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)

    def _path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def register(self, model: TrainedModel, data_hash: str, *, promote: bool = False, version: str | None = None,
                 created_at: int | None = None, promotion: dict[str, Any] | None = None) -> ModelInfo:
        """Store a trained model as a new version (optionally promoting it to live).

        ``version``/``created_at`` default to the wall clock; continuous learning passes
        event-time ones so a replay registers the same versions.
        """
        created = int(time.time() * 1000) if created_at is None else created_at
        version = version or f"lgbm-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(created / 1000))}-{data_hash[:8]}"
        info = ModelInfo(version, model.features, model.categorical, asdict(model.calibration), model.window,
                         model.metrics, data_hash, created, model.feature_bins, promotion or {})
        self.fs.makedirs(self._path(version), exist_ok=True)
        with self.fs.open(self._path(version, "model.txt"), "w") as handle:
            handle.write(model.booster.model_to_string())
        with self.fs.open(self._path(version, "metadata.json"), "w") as handle:
            json.dump(asdict(info), handle, indent=2, allow_nan=True)
        if promote:
            self.promote(version)
        return info

    def versions(self) -> list[ModelInfo]:
        """Every registered version, oldest first."""
        if not self.fs.exists(self.root):
            return []
        infos = []
        for entry in self.fs.ls(self.root, detail=False):
            meta = f"{entry.rstrip('/')}/metadata.json"
            if self.fs.exists(meta):
                with self.fs.open(meta, "r") as handle:
                    infos.append(ModelInfo(**json.load(handle)))
        return sorted(infos, key=lambda i: (i.created_at, i.version))

    def info(self, version: str) -> ModelInfo:
        """Metadata of one version."""
        meta = self._path(version, "metadata.json")
        if not self.fs.exists(meta):
            raise ModelNotFoundError(version, self.url)
        with self.fs.open(meta, "r") as handle:
            return ModelInfo(**json.load(handle))

    def load(self, version: str) -> tuple[ModelInfo, TrainedModel]:
        """The metadata and model of one version."""
        info = self.info(version)
        with self.fs.open(self._path(version, "model.txt"), "r") as handle:
            booster = lgb.Booster(model_str=handle.read())
        model = TrainedModel(booster, Calibration(**info.calibration), info.features, info.categorical,
                             info.metrics, info.window, info.feature_bins)
        return info, model

    def promote(self, version: str) -> None:
        """Make a version the live one (what the stream serves)."""
        self.info(version)
        with self.fs.open(self._path(LIVE_FILE), "w") as handle:
            handle.write(version + "\n")

    def live_version(self) -> str | None:
        """The live version, or None; one small read, cheap to poll for hot reload."""
        path = self._path(LIVE_FILE)
        try:
            with self.fs.open(path, "r") as handle:
                return handle.read().strip() or None
        except FileNotFoundError:
            return None

    def load_live(self) -> tuple[ModelInfo, TrainedModel]:
        """The live model; raises NoLiveModelError when none is promoted."""
        version = self.live_version()
        if version is None:
            raise NoLiveModelError(self.url)
        return self.load(version)


def describe(info: ModelInfo) -> dict[str, Any]:
    """A one-line summary of a version for listings."""
    return {"version": info.version, "created_at": info.created_at, "window": info.window,
            "positives": info.metrics.get("positives"), "valid_auc": info.metrics.get("valid_auc")}
