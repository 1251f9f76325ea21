"""Dead letters that always fit: the one builder of DeadLetter records, for agents and batch commands.

A dead letter carries where the payload came from, why it failed, the payload's size and
sha256, and as much of the payload as fits: its encoded size never exceeds
``max_bytes`` (:attr:`Limits.dead_letter_max_bytes`, 64 KiB by default, far under the
producer's 1 MiB ``max.request.size``), whatever the payload, key or reason, so sending it
cannot fail for size. The raw prefix is also kept within :attr:`Limits.max_string_bytes`,
so the dead letter decodes under the same limits.

>>> letter = dead_letter_record(b"x" * 5_000_000, Source("declarations", 3, 42, b"DEC-1"),
...                             "LIMIT", "5000000 bytes, the limit is 1048576", failed_at=1_709_280_000_000)
>>> letter["raw_size"], len(letter["raw"]) < 65_536, letter["raw_sha256"][:12]
(5000000, True, '03a7bd518f3e')
>>> len(encode_dead_letter(letter)) <= DEFAULT_LIMITS.dead_letter_max_bytes
True
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DEAD_LETTERS
from zeikan.schemas.errors import ErrorKind
from zeikan.schemas.limits import DEFAULT_LIMITS, Limits

KEY_MAX_BYTES = 1_024
"""Longest source key a dead letter keeps (longer ones are cut; the payload's sha256 still identifies it)."""
MESSAGE_MAX_CHARS = 2_000
"""Longest error message a dead letter keeps (the reason comes first, so it survives the cut)."""
_VARINT_MAX = 10


@dataclass(frozen=True)
class Source:
    """Where a payload came from: a Kafka position, or a file line (``partition=-1``, ``offset`` = line number)."""

    topic: str
    partition: int = -1
    offset: int = -1
    key: bytes | None = None


def dead_letter_record(raw: bytes, source: Source, kind: ErrorKind | str, message: str,
                       failed_at: int | None = None, limits: Limits = DEFAULT_LIMITS) -> dict:
    """The DeadLetter of ``raw``; encoded (any framing) it is at most ``limits.dead_letter_max_bytes``."""
    raw = bytes(raw)
    key = None if source.key is None else bytes(source.key)[:KEY_MAX_BYTES]
    record = {
        "source_topic": source.topic[:255],
        "partition": int(source.partition),
        "offset": int(source.offset),
        "key": key,
        "raw": b"",
        "error_kind": str(ErrorKind(kind)),
        "error_message": message[:MESSAGE_MAX_CHARS],
        "failed_at": int(time.time() * 1000) if failed_at is None else int(failed_at),
        "raw_size": len(raw),
        "raw_sha256": hashlib.sha256(raw).hexdigest(),
    }
    # the empty raw encodes as one length byte; a prefix of n bytes needs n + up to 10 for its length
    room = limits.dead_letter_max_bytes - len(encode_dead_letter(record)) + 1 - _VARINT_MAX
    record["raw"] = raw[: max(0, min(room, limits.dead_letter_raw_bytes))]
    return record


def encode_dead_letter(record: dict) -> bytes:
    """``record`` encoded for the dead-letter topic (single-object framing: the larger header of the two)."""
    return codec_for(DEAD_LETTERS.name).encode(record)
