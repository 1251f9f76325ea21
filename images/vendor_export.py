"""Write a vendor export as its :class:`~zeikan.images.profile.VendorProfile` describes it (files + manifest).

The inverse of :mod:`~zeikan.images.profile_ingest`: the simulator's renderers
write their scans in a vendor's format with it, and the round-trip tests check
that the profile alone reads them back.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zeikan.images.profile import VendorProfile
from zeikan.images.vendor_files import write_png, write_raw, write_tiff


@dataclass(frozen=True, eq=False)
class VendorScan:
    """Counts ``(C, H, W)`` as the vendor's detector wrote them, and the scan's manifest facts (canonical keys)."""

    scan_id: str
    counts: np.ndarray
    facts: Mapping[str, Any]


def _nest(fields: Mapping[str, str], facts: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, dotted in fields.items():
        if facts.get(key) is None:
            continue
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = facts[key]
    return out


def _write_files(profile: VendorProfile, folder: Path, scan: VendorScan) -> None:
    files = profile.files
    dtype = np.uint16 if files.pixels.bit_depth > 8 else np.uint8
    counts = scan.counts.astype(dtype)
    if files.pairing == "files":
        targets = [(folder / files.pattern.format(scan_id=scan.scan_id, channel=c), counts[i : i + 1]) for i, c in enumerate(files.channels)]
    else:
        targets = [(folder / files.pattern.format(scan_id=scan.scan_id), counts)]
    for path, planes in targets:
        if files.format == "png":
            path.write_bytes(write_png(planes[0]))
        elif files.format == "tiff":
            path.write_bytes(write_tiff(planes))
        elif files.format == "raw":
            data, header = write_raw(planes, files.pixels.bit_depth)
            path.write_bytes(data)
            path.with_suffix(".hdr").write_text(header)
        else:
            raise ValueError(f"no writer for vendor format {files.format!r}")


def write_export(profile: VendorProfile, folder: Path, scans: Sequence[VendorScan]) -> Path:
    """Write ``scans`` into ``folder`` in the profile's format; returns the manifest path (or the folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    for scan in scans:
        _write_files(profile, folder, scan)
    spec = profile.manifest
    if spec is None:
        return folder
    rows = [_nest(spec.fields, dict(scan.facts, scan_id=scan.scan_id)) for scan in scans]
    if spec.format == "jsonl":
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    else:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(spec.fields.values()), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buf.getvalue()
    path = folder / spec.file
    path.write_text(text)
    return path
