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


class RefusedImageError(ImageError):
    """A vendor image that decodes but does not fit its profile (bit depth, size, channels, range, content)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"image {source!r} refused: {reason}")
        self.source = source
        self.reason = reason


class ProfileError(ImageError):
    """A vendor profile (YAML) or a manifest it names is missing or invalid."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"vendor profile {source!r}: {reason}; fix the profile (see images/profiles/*.yaml)")


class ImageReferenceError(ImageError):
    """A scan's ``image_uri`` is not an object of the configured image store (or is too large to read)."""

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"image reference {uri[:200]!r} refused: {reason}")
        self.reason = reason


class ExportError(ImageError):
    """A vendor export (folder or manifest) is missing or unreadable."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"vendor export {source!r}: {reason}")
