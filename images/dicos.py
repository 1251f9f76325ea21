"""Interchange in NEMA DICOS (the DICOM-based security-imaging standard) through pydicom.

:func:`to_dicos` writes a canonical image as a *DICOS Digital X-Ray Image
(For Processing)* object: one 16-bit frame per energy (low first), the pitch as
``PixelSpacing``, the attenuation scale as ``RescaleSlope`` (``-ln(I/I0)`` per
count), the scanner as ``Manufacturer``/``ManufacturerModelName``, the energies
as ``KVP`` (the highest) and ``EnergyWeightingFactor``-free ``FrameLabel`` per
frame ("4000 kV"), and, because DICOS has no field for everything zeikan keeps
(calibration per channel, declared goods, tare, labels), the complete
:class:`~zeikan.images.canonical.ImageMeta` and the labels as JSON in a private
block (creator ``ZEIKAN``), so :func:`from_dicos` restores the canonical image
bit for bit. Labels (white/black, boxes) also travel as COCO (``zeikan images
annotate export``).

Limits, written down: the object is a conformant DICOM file with the DICOS DX
SOP class and modules filled as far as zeikan knows them; DICOS' Object of
Inspection and Threat Detection Report modules (OOI owner, TDR with threat
boxes) are not written, and no DICOS validator was available to certify the
files. pydicom is an optional dependency (``pip install -e '.[dicos]'``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import numpy as np

from zeikan.images.canonical import CanonicalImage, ImageMeta
from zeikan.images.errors import CorruptImageError, ImageError
from zeikan.images.labels import ImageLabel

DICOS_DX_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.501.2.2"
"""SOP Class UID of DICOS Digital X-Ray Image Storage - For Processing"""
PRIVATE_CREATOR = "ZEIKAN"
PRIVATE_GROUP = 0x0011
_META, _LABELS = 0x01, 0x02


def _pydicom():  # type: ignore[no-untyped-def]
    try:
        import pydicom
        from pydicom.dataset import FileMetaDataset
        from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    except ImportError as exc:
        raise ImageError("DICOS needs pydicom: pip install pydicom (or -e '.[dicos]')") from exc
    return pydicom, FileMetaDataset, ExplicitVRLittleEndian, generate_uid


def to_dicos(image: CanonicalImage, labels: Sequence[ImageLabel] = ()) -> bytes:
    """DICOS DX bytes of a canonical image (and its labels); deterministic UIDs from the scan id."""
    pydicom, FileMetaDataset, ExplicitVRLittleEndian, generate_uid = _pydicom()
    meta = image.meta
    sop_uid = generate_uid(entropy_srcs=[meta.scan_id, meta.container_id, meta.to_json()])
    fm = FileMetaDataset()
    fm.MediaStorageSOPClassUID = DICOS_DX_FOR_PROCESSING
    fm.MediaStorageSOPInstanceUID = sop_uid
    fm.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = fm
    ds.SOPClassUID = DICOS_DX_FOR_PROCESSING
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[meta.container_id or meta.scan_id])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[meta.scan_id])
    ds.Modality = "DX"
    ds.Manufacturer = meta.system or "zeikan"
    ds.ManufacturerModelName = meta.scanner_model
    ds.ContentLabel = "XRAY"
    ds.ImageComments = f"scan {meta.scan_id}; container {meta.container_id}; {meta.orientation}"
    ds.KVP = str(max(meta.energies_kv))
    ds.FrameLabel = [f"{e} kV" for e in meta.energies_kv]
    channels, rows, cols = image.pixels.shape
    ds.NumberOfFrames = channels
    ds.Rows, ds.Columns = rows, cols
    ds.PixelSpacing = [meta.pitch_mm, meta.pitch_mm]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", repr(1.0 / meta.attenuation_scale), "ATTEN"
    ds.PixelData = np.ascontiguousarray(image.pixels, dtype="<u2").tobytes()
    block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    block.add_new(_META, "UT", meta.to_json())
    block.add_new(_LABELS, "UT", json.dumps([json.loads(lb.to_json()) for lb in labels], sort_keys=True))
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def from_dicos(data: bytes, source: str = "<dicos>") -> tuple[CanonicalImage, list[ImageLabel]]:
    """A canonical image and its labels from DICOS DX bytes written by :func:`to_dicos` (or another exporter that keeps the block)."""
    pydicom, *_ = _pydicom()
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
        if str(ds.SOPClassUID) != DICOS_DX_FOR_PROCESSING:
            raise CorruptImageError(source, f"SOP class {ds.SOPClassUID} is not DICOS DX for processing")
        block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR)
        meta = ImageMeta.from_json(block[_META].value)
        labels = [ImageLabel.from_json(json.dumps(raw)) for raw in json.loads(block[_LABELS].value)]
        frames = int(ds.NumberOfFrames)
        pixels = np.frombuffer(ds.PixelData, dtype="<u2").reshape(frames, int(ds.Rows), int(ds.Columns))
    except CorruptImageError:
        raise
    except Exception as exc:  # pydicom raises many types for damaged or foreign files
        raise CorruptImageError(source, f"not a zeikan DICOS object ({type(exc).__name__})") from exc
    try:
        return CanonicalImage(pixels.astype(np.uint16), meta), labels
    except ValueError as exc:
        raise CorruptImageError(source, str(exc)) from exc
