"""Versioned model registry on any fsspec URL (a local directory by default).

Layout under the root::

    <version>/model.txt       LightGBM text model
    <version>/metadata.json   version, role, features, calibration, training window, metrics, data hash,
                              feature_bins (training distribution per feature, for drift)
    LIVE                      the promoted risk model (one line; cheap to poll for hot reload)
    LIVE-<role>               the promoted model of another role (``LIVE-seizure``)

One registry holds every model, each named by its *role* (:data:`ROLES`): ``risk``, the
model whose score ranks every lane, and ``seizure``, the key of the container lanes
(:func:`zeikan.models.training.train_seizure`). Each role has its own live version;
metadata written before roles existed reads ``risk``.
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
RISK, SEIZURE = "risk", "seizure"
ROLES: tuple[str, ...] = (RISK, SEIZURE)
"""Model roles: the risk model (every lane's score) and the seizure key (the container lanes' rank)."""


def live_file(role: str) -> str:
    """Name of the file holding ``role``'s live version.

    >>> live_file(RISK), live_file(SEIZURE)
    ('LIVE', 'LIVE-seizure')
    """
    if role not in ROLES:
        raise ValueError(f"unknown model role {role!r} (roles: {', '.join(ROLES)})")
    return LIVE_FILE if role == RISK else f"{LIVE_FILE}-{role}"


def version_name(role: str, created_ms: int, data_hash: str) -> str:
    """Default version of a model: ``lgbm-<UTC time>-<hash>`` for the risk model, ``lgbm-<role>-…`` otherwise.

    >>> version_name(SEIZURE, 0, "abcdef0123")
    'lgbm-seizure-19700101-000000-abcdef01'
    """
    stamp = time.strftime('%Y%m%d-%H%M%S', time.gmtime(created_ms / 1000))
    return "-".join(["lgbm", *([] if role == RISK else [role]), stamp, data_hash[:8]])


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
    role: str = RISK
    """What the model is for (:data:`ROLES`)."""


class ModelRegistry:
    """Register, list, load and promote tabular models (each role has its live version)."""

    def __init__(self, url: str = DEFAULT_REGISTRY) -> None:
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)

    def _path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def register(self, model: TrainedModel, data_hash: str, *, promote: bool = False, version: str | None = None,
                 created_at: int | None = None, promotion: dict[str, Any] | None = None, role: str = RISK) -> ModelInfo:
        """Store a trained model of ``role`` as a new version (optionally promoting it to that role's live).

        ``version``/``created_at`` default to the wall clock (:func:`version_name`); continuous learning passes
        event-time ones so a replay registers the same versions.
        """
        live_file(role)
        created = int(time.time() * 1000) if created_at is None else created_at
        version = version or version_name(role, created, data_hash)
        info = ModelInfo(version, model.features, model.categorical, asdict(model.calibration), model.window,
                         model.metrics, data_hash, created, model.feature_bins, promotion or {}, role)
        self.fs.makedirs(self._path(version), exist_ok=True)
        with self.fs.open(self._path(version, "model.txt"), "w") as handle:
            handle.write(model.booster.model_to_string())
        with self.fs.open(self._path(version, "metadata.json"), "w") as handle:
            json.dump(asdict(info), handle, indent=2, allow_nan=True)
        if promote:
            self.promote(version)
        return info

    def versions(self, role: str | None = None) -> list[ModelInfo]:
        """Every registered version (of ``role``, when given), oldest first."""
        if not self.fs.exists(self.root):
            return []
        infos = []
        for entry in self.fs.ls(self.root, detail=False):
            meta = f"{entry.rstrip('/')}/metadata.json"
            if self.fs.exists(meta):
                with self.fs.open(meta, "r") as handle:
                    infos.append(ModelInfo(**json.load(handle)))
        return sorted((i for i in infos if role in (None, i.role)), key=lambda i: (i.created_at, i.version))

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
        """Make a version the live one of its role (what the stream serves)."""
        info = self.info(version)
        with self.fs.open(self._path(live_file(info.role)), "w") as handle:
            handle.write(version + "\n")

    def live_version(self, role: str = RISK) -> str | None:
        """The live version of ``role``, or None; one small read, cheap to poll for hot reload."""
        path = self._path(live_file(role))
        try:
            with self.fs.open(path, "r") as handle:
                return handle.read().strip() or None
        except FileNotFoundError:
            return None

    def load_live(self, role: str = RISK) -> tuple[ModelInfo, TrainedModel]:
        """The live model of ``role``; raises NoLiveModelError when none is promoted."""
        version = self.live_version(role)
        if version is None:
            raise NoLiveModelError(self.url)
        return self.load(version)


def describe(info: ModelInfo) -> dict[str, Any]:
    """A one-line summary of a version for listings."""
    return {"version": info.version, "role": info.role, "created_at": info.created_at, "window": info.window,
            "positives": info.metrics.get("positives"), "valid_auc": info.metrics.get("valid_auc")}
