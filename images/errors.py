"""Errors of the image area: every bad image, store or calibration problem is an :class:`ImageError`."""

from __future__ import annotations

from zeikan.errors import ZeikanError


class ImageError(ZeikanError):
    """Base class of image errors (corrupt input, missing object, bad configuration)."""


class CorruptImageError(ImageError):
    """A vendor or canonical image could not be decoded."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"image {source!r} is corrupt or truncated: {reason}; re-export it from the scanner")
        self.source = source
        self.reason = reason


class CalibrationError(ImageError):
    """A scanner calibration curve is missing or invalid."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"calibration {source!r} is invalid: {reason}; fix the calibration JSON")


class ImageNotFoundError(ImageError):
    """No object with this address exists in the store."""

    def __init__(self, address: str, store_url: str) -> None:
        super().__init__(f"image {address!r} is not in store {store_url!r}; check the sha256/URI or ingest it first")


class UnknownStoreError(ImageError):
    """No store backend is registered for this URL scheme."""

    def __init__(self, url: str, schemes: list[str]) -> None:
        super().__init__(f"no image store backend for {url!r}; known schemes: {', '.join(sorted(schemes))}")


class ModelArtifactError(ImageError):
    """The ONNX image model or its metadata is missing or unusable."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"image model at {path!r} unusable: {reason}; run `zeikan images train` or restore the artifact")
