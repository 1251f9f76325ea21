"""Ingest a vendor export (a folder or its manifest) through its :class:`~zeikan.images.profile.VendorProfile`.

:func:`convert_export` turns every scan of the export into a canonical image, or
into a one-line refusal; nothing is stored here. The CLI stores the images only
when no scan was refused (all or nothing), so an export is never half ingested.

Steps per scan: find its files (pattern and pairing), read exact counts
(:mod:`~zeikan.images.vendor_files`), refuse what does not fit
(:mod:`~zeikan.images.fitness`), calibrate each channel, turn it to the canonical
orientation, resample the (x, y) pitch to the canonical one, and carry the
manifest's facts (container, ISO type, declared goods, net weight after tare).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zeikan.images.canonical import ATTENUATION_SCALE, CanonicalImage
from zeikan.images.errors import ExportError, ImageError, RefusedImageError
from zeikan.images.fitness import refuse_unfit
from zeikan.images.ingest import ScanInfo, canonicalize
from zeikan.images.profile import VendorProfile
from zeikan.images.tare import tare_kg
from zeikan.images.vendor_files import read_counts

MAX_ATTENUATION = 65535.0 / ATTENUATION_SCALE
"""largest attenuation the canonical uint16 holds"""


@dataclass(frozen=True)
class ExportScan:
    """One scan of a vendor export: its id, files (canonical channel order) and manifest facts."""

    scan_id: str
    paths: tuple[Path, ...]
    facts: Mapping[str, Any]


@dataclass(frozen=True)
class Converted:
    """Outcome of one scan: a canonical image or the reason it was refused."""

    scan_id: str
    image: CanonicalImage | None
    refused: str | None = None


def _dig(record: Mapping[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def read_manifest(profile: VendorProfile, path: Path) -> list[dict[str, Any]]:
    """Manifest records mapped to canonical keys (``None`` where the vendor gives nothing)."""
    spec = profile.manifest
    assert spec is not None
    try:
        text = path.read_text()
    except OSError as exc:
        raise ExportError(str(path), f"cannot read the manifest: {exc.strerror or exc}") from exc
    try:
        if spec.format == "jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            rows = list(csv.DictReader(text.splitlines()))
    except json.JSONDecodeError as exc:
        raise ExportError(str(path), f"manifest line {exc.lineno} is not JSON") from exc
    out = []
    for n, row in enumerate(rows, 1):
        if not isinstance(row, Mapping):
            raise ExportError(str(path), f"manifest record {n} is not an object")
        facts = {key: _dig(row, field) if spec.format == "jsonl" else row.get(field) for key, field in spec.fields.items()}
        if not facts.get("scan_id"):
            raise ExportError(str(path), f"manifest record {n} has no {spec.fields['scan_id']!r}")
        out.append(facts)
    return out


def _paths(profile: VendorProfile, folder: Path, scan_id: str) -> tuple[Path, ...]:
    files = profile.files
    if files.pairing == "planes":
        return (folder / files.pattern.format(scan_id=scan_id),)
    return tuple(folder / files.pattern.format(scan_id=scan_id, channel=c) for c in files.channels)


def _scan_ids_from_files(profile: VendorProfile, folder: Path) -> list[str]:
    files = profile.files
    first = files.pattern.replace("{channel}", files.channels[0]) if files.pairing == "files" else files.pattern
    regex = re.compile("^" + re.escape(first).replace(re.escape("{scan_id}"), "(?P<scan_id>.+)") + "$")
    found = (regex.match(p.name) for p in sorted(folder.iterdir()))
    return [m.group("scan_id") for m in found if m]


def discover(profile: VendorProfile, target: Path) -> list[ExportScan]:
    """The scans of an export: a folder (its manifest, else its files) or a manifest file."""
    if not target.exists():
        raise ExportError(str(target), "no such folder or manifest")
    if target.is_file():
        if profile.manifest is None:
            raise ExportError(str(target), f"profile {profile.name!r} has no manifest; give the export folder")
        folder, manifest = target.parent, target
    else:
        folder = target
        manifest = folder / profile.manifest.file if profile.manifest else None
    if manifest is not None:
        records = read_manifest(profile, manifest)
    else:
        records = [{"scan_id": s} for s in _scan_ids_from_files(profile, folder)]
    if not records:
        raise ExportError(str(target), f"no scans found (manifest empty or no file matches {profile.files.pattern!r})")
    return [ExportScan(str(r["scan_id"]), _paths(profile, folder, str(r["scan_id"])), r) for r in records]


def _counts(profile: VendorProfile, scan: ExportScan) -> np.ndarray:
    planes = []
    for path in scan.paths:
        if not path.is_file():
            raise RefusedImageError(str(path), "file missing from the export")
        counts = read_counts(path, profile.files.format)
        refuse_unfit(counts, profile.files.pixels)
        planes.extend(counts.pixels)
    if any(p.shape != planes[0].shape for p in planes):
        raise RefusedImageError(str(scan.paths[0]), f"channel files differ in size: {[p.shape for p in planes]}")
    return np.stack(planes)


def _number(value: Any, what: str, source: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise RefusedImageError(source, f"manifest {what} {value!r} is not a number") from exc


def _declared(profile: VendorProfile, facts: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Declared goods, net weight (tare removed when the vendor's weight includes it), tare and ISO type."""
    iso = str(facts.get("iso_type") or "")
    weight = _number(facts.get("declared_weight_kg"), "declared_weight_kg", source)
    tare = _number(facts.get("tare_kg"), "tare_kg", source)
    if tare is None and iso:
        tare = tare_kg(iso)
    includes = profile.manifest is not None and profile.manifest.declared_weight_includes_tare
    net = weight
    if weight is not None and includes:
        net = None if tare is None else max(0.0, weight - tare)
    return {"declared_goods": str(facts.get("declared_goods") or ""), "declared_net_kg": net, "tare_kg": tare, "iso_type": iso}


def convert_scan(profile: VendorProfile, scan: ExportScan) -> CanonicalImage:
    """The canonical image of one scan; raises an :class:`ImageError` with the reason it cannot be one."""
    source = str(scan.paths[0])
    counts = _counts(profile, scan)
    attenuation = np.stack([cal.to_attenuation(plane) for cal, plane in zip(profile.calibration, counts)])
    beyond = float(np.mean(attenuation > MAX_ATTENUATION))
    if beyond > profile.files.pixels.max_clipped_share:
        raise RefusedImageError(source, f"{beyond:.0%} of pixels calibrate beyond attenuation {MAX_ATTENUATION:.0f} (canonical range)")
    facts = scan.facts
    doors, top = str(facts.get("doors") or profile.doors), str(facts.get("top") or profile.top)
    if doors not in ("left", "right") or top not in ("up", "down"):
        raise RefusedImageError(source, f"manifest orientation doors={doors!r} top={top!r} is not left|right, up|down")
    if doors == "left":
        attenuation = attenuation[:, :, ::-1]
    if top == "down":
        attenuation = attenuation[:, ::-1, :]
    px = _number(facts.get("pitch_x_mm"), "pitch_x_mm", source) or profile.pitch_mm[0]
    py = _number(facts.get("pitch_y_mm"), "pitch_y_mm", source) or profile.pitch_mm[1]
    energies = facts.get("energies")
    if isinstance(energies, str):
        energies = energies.replace(";", ",").split(",")
    try:
        energies_kv = profile.energies_kv(tuple(float(e) for e in energies) if energies else None)
    except (TypeError, ValueError) as exc:
        raise RefusedImageError(source, f"manifest energies {energies!r} are not numbers") from exc
    if len(energies_kv) != counts.shape[0] or px <= 0 or py <= 0:
        raise RefusedImageError(source, f"manifest gives {len(energies_kv)} energies for {counts.shape[0]} channels, pitch {px}x{py} mm")
    calibration = json.dumps([c.to_dict() for c in profile.calibration], sort_keys=True, separators=(",", ":"))
    info = ScanInfo(scan.scan_id, str(facts.get("container_id") or ""), profile.scanner_model, (py, px), energies_kv,
                    f"{profile.name}:{hashlib.sha256(calibration.encode()).hexdigest()[:12]}")
    return canonicalize(np.ascontiguousarray(attenuation), info, f"{profile.files.format}{profile.files.pixels.bit_depth}",
                        system=profile.name, native_pitch_mm=(px, py), calibration=calibration,
                        **_declared(profile, facts, source))


def convert_export(profile: VendorProfile, target: Path) -> Iterator[Converted]:
    """Every scan of an export, converted or refused (one line of reason each)."""
    for scan in discover(profile, target):
        try:
            yield Converted(scan.scan_id, convert_scan(profile, scan))
        except ImageError as exc:
            yield Converted(scan.scan_id, None, str(exc))
