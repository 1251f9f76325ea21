"""Vendor profiles: a declarative YAML description of a scanner's export, so a new vendor needs no code.

A profile names (see ``images/profiles/*.yaml`` for complete examples):

* ``files``: ``format`` (png | jpeg | tiff | raw), the file ``pattern`` with
  ``{scan_id}`` (and ``{channel}`` when ``pairing: files``: one file per energy,
  e.g. HI/LO PNG pairs; ``pairing: planes``: all energies in one file, TIFF pages
  or raw planes), the ``channels`` in canonical order (lowest energy first),
  ``bit_depth``, and the refusal limits (size, ``max_value``, saturated and
  clipped shares);
* ``energies``: ``values`` per channel and their ``unit`` (kV, keV, MV, MeV);
* ``pitch_mm``: ``{x, y}``; ``orientation``: where the ``doors`` are
  (right = canonical) and whether the ``top`` is up (canonical) or down;
* ``calibration``: per channel ``dark``, ``open_beam`` and a ``curve`` or ``lut``
  (:class:`~zeikan.images.channel_calibration.ChannelCalibration`);
* ``manifest`` (optional): ``format`` (jsonl | csv), ``file``, ``fields``
  (canonical key -> vendor field, dotted for nested JSON) and
  ``declared_weight_includes_tare``.

Manifest keys: ``scan_id`` (required), ``container_id``, ``pitch_x_mm``,
``pitch_y_mm``, ``energies`` (list, in the profile's unit), ``doors``, ``top``,
``declared_goods``, ``declared_weight_kg``, ``tare_kg``, ``iso_type``. A
manifest value overrides the profile's default for that scan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from zeikan.images.channel_calibration import ChannelCalibration
from zeikan.images.errors import CalibrationError, ProfileError
from zeikan.images.fitness import PixelSpec
from zeikan.images.vendor_files import READERS

ENERGY_UNITS_KV: dict[str, float] = {"kv": 1.0, "kev": 1.0, "mv": 1000.0, "mev": 1000.0}
"""energy unit -> kV (a linac's MV end-point and MeV are used alike in cargo scanning)"""
MANIFEST_FORMATS = ("jsonl", "csv")
MANIFEST_KEYS = ("scan_id", "container_id", "pitch_x_mm", "pitch_y_mm", "energies", "doors", "top",
                 "declared_goods", "declared_weight_kg", "tare_kg", "iso_type")
DOORS = ("left", "right")
TOPS = ("up", "down")


@dataclass(frozen=True)
class FilesSpec:
    """How a scan's files are named, paired and what their pixels must look like."""

    format: str
    pattern: str
    pairing: str
    channels: tuple[str, ...]
    pixels: PixelSpec
    """what each *file* must hold (one channel per file when pairing by files)"""


@dataclass(frozen=True)
class ManifestSpec:
    """Where per-scan metadata comes from."""

    format: str
    file: str
    fields: Mapping[str, str]
    declared_weight_includes_tare: bool


@dataclass(frozen=True)
class VendorProfile:
    """One vendor export, parsed and validated (see the module docstring)."""

    name: str
    scanner_model: str
    files: FilesSpec
    energies: tuple[float, ...]
    energy_unit: str
    pitch_mm: tuple[float, float]
    """(x, y)"""
    doors: str
    top: str
    calibration: tuple[ChannelCalibration, ...]
    manifest: ManifestSpec | None

    def energies_kv(self, values: tuple[float, ...] | None = None) -> tuple[int, ...]:
        """Energies (the profile's, or a manifest's in the profile's unit) in kV."""
        factor = ENERGY_UNITS_KV[self.energy_unit.lower()]
        return tuple(int(round(v * factor)) for v in (values if values is not None else self.energies))


def _need(raw: Mapping[str, Any], key: str, source: str) -> Any:
    if key not in raw:
        raise ProfileError(source, f"missing {key!r}")
    return raw[key]


def _pair(raw: Any, source: str, what: str) -> tuple[int, int]:
    try:
        a, b = raw
        return int(a), int(b)
    except (TypeError, ValueError) as exc:
        raise ProfileError(source, f"{what} must be [height, width]") from exc


def _files(raw: Mapping[str, Any], source: str) -> FilesSpec:
    fmt = str(_need(raw, "format", source))
    if fmt not in READERS:
        raise ProfileError(source, f"files.format {fmt!r} is not one of {', '.join(sorted(READERS))}")
    pattern = str(_need(raw, "pattern", source))
    channels = tuple(str(c) for c in _need(raw, "channels", source))
    pairing = str(raw.get("pairing", "files" if "{channel}" in pattern else "planes"))
    if pairing not in ("files", "planes") or "{scan_id}" not in pattern or (pairing == "files") != ("{channel}" in pattern):
        raise ProfileError(source, "files.pattern needs {scan_id}, and {channel} exactly when pairing is 'files'")
    if not 1 <= len(channels) <= 2:
        raise ProfileError(source, "files.channels lists 1 or 2 energy channels")
    size = raw.get("size", {})
    try:
        pixels = PixelSpec(
            bit_depth=int(_need(raw, "bit_depth", source)),
            channels=1 if pairing == "files" else len(channels),
            min_size=_pair(size.get("min", (16, 16)), source, "files.size.min"),
            max_size=_pair(size.get("max", (8192, 32768)), source, "files.size.max"),
            max_value=int(raw["max_value"]) if "max_value" in raw else None,
            max_saturated_share=float(raw.get("max_saturated_share", 0.5)),
            max_clipped_share=float(raw.get("max_clipped_share", 0.05)),
        )
    except (TypeError, ValueError) as exc:
        raise ProfileError(source, f"files: {exc}") from exc
    return FilesSpec(fmt, pattern, pairing, channels, pixels)


def _manifest(raw: Mapping[str, Any] | None, source: str) -> ManifestSpec | None:
    if raw is None:
        return None
    fmt = str(_need(raw, "format", source))
    if fmt not in MANIFEST_FORMATS:
        raise ProfileError(source, f"manifest.format {fmt!r} is not one of {', '.join(MANIFEST_FORMATS)}")
    fields = {str(k): str(v) for k, v in dict(raw.get("fields", {})).items()}
    unknown = set(fields) - set(MANIFEST_KEYS)
    if unknown or "scan_id" not in fields:
        raise ProfileError(source, f"manifest.fields maps {', '.join(MANIFEST_KEYS)} (scan_id required); unknown: {sorted(unknown)}")
    return ManifestSpec(fmt, str(_need(raw, "file", source)), fields, bool(raw.get("declared_weight_includes_tare", False)))


def parse_profile(raw: Any, source: str) -> VendorProfile:
    """Validate a parsed YAML document into a :class:`VendorProfile`."""
    if not isinstance(raw, Mapping):
        raise ProfileError(source, "top level must be a mapping")
    files = _files(_need(raw, "files", source), source)
    energies_raw = _need(raw, "energies", source)
    unit = str(energies_raw.get("unit", ""))
    if unit.lower() not in ENERGY_UNITS_KV:
        raise ProfileError(source, f"energies.unit {unit!r} is not one of kV, keV, MV, MeV")
    energies = tuple(float(v) for v in energies_raw.get("values", ()))
    pitch = _need(raw, "pitch_mm", source)
    orientation = raw.get("orientation", {})
    doors, top = str(orientation.get("doors", "right")), str(orientation.get("top", "up"))
    cal_raw = _need(raw, "calibration", source)
    if len(energies) != len(files.channels) or set(cal_raw) != set(files.channels):
        raise ProfileError(source, f"energies.values and calibration need one entry per channel {list(files.channels)}")
    if doors not in DOORS or top not in TOPS:
        raise ProfileError(source, "orientation.doors is left|right and orientation.top is up|down")
    try:
        pitch_xy = (float(pitch["x"]), float(pitch["y"]))
        calibration = tuple(ChannelCalibration.from_dict(cal_raw[c], f"{source} calibration.{c}") for c in files.channels)
    except (KeyError, TypeError, ValueError, CalibrationError) as exc:
        raise ProfileError(source, str(exc)) from exc
    if min(pitch_xy) <= 0:
        raise ProfileError(source, "pitch_mm.x and pitch_mm.y must be positive")
    return VendorProfile(
        name=str(_need(raw, "name", source)), scanner_model=str(_need(raw, "scanner_model", source)), files=files,
        energies=energies, energy_unit=unit, pitch_mm=pitch_xy, doors=doors, top=top, calibration=calibration,
        manifest=_manifest(raw.get("manifest"), source),
    )


SHIPPED = "profiles"
"""package folder of the shipped profiles (``zeikan.images/profiles/NAME.yaml``)"""


def shipped_profiles() -> list[str]:
    """Names of the profiles shipped with zeikan."""
    folder = resources.files("zeikan.images") / SHIPPED
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_profile(ref: str | Path) -> VendorProfile:
    """A profile from a YAML path or the name of a shipped one."""
    path = Path(ref)
    if path.suffix not in (".yaml", ".yml"):
        shipped = resources.files("zeikan.images") / SHIPPED / f"{ref}.yaml"
        if not shipped.is_file():
            raise ProfileError(str(ref), f"no such file and no shipped profile of that name (shipped: {', '.join(shipped_profiles())})")
        text, source = shipped.read_text(), f"{ref} (shipped)"
    else:
        try:
            text, source = path.read_text(), str(path)
        except OSError as exc:
            raise ProfileError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(source, f"not YAML: {str(exc).splitlines()[0]}") from exc
    return parse_profile(raw, source)
