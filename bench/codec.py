"""Codec throughput: encode, decode, validate and JSON-line records of a typical declaration (3 items).

``python -m zeikan.bench.codec [--records 20000] [--repeat 3]`` prints one JSON line with the
best-of-``repeat`` rates in records/s: single-object encode, decode, encode+decode, decode
of a record written with an older schema version (schema resolution), Confluent decode,
``validate`` and ``dumps``/``parse_line``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from zeikan.bench.common import emit, timed
from zeikan.schemas.codec import codec_for, encode_single_object, past_schemas
from zeikan.schemas.examples import example_record
from zeikan.schemas.jsonl import dumps, parse_line
from zeikan.schemas.validation import validate


def best_rate(step: Callable[[], object], count: int, repeat: int) -> float:
    """The best records/s of ``repeat`` runs of ``step`` (which handles ``count`` records)."""
    rates = []
    for _ in range(repeat):
        with timed() as timing:
            step()
        rates.append(timing.rate(count))
    return max(rates)


def _old_inspection_bytes(count: int) -> list[bytes]:
    """Inspection results as a writer with the previous schema version (v1) framed them."""
    (v1,) = past_schemas("inspection-results")
    record = example_record("inspection-results")
    del record["random_selected"]
    return [encode_single_object(v1, record)] * count


def measure(records: int, repeat: int) -> dict[str, float]:
    """Records/s of each codec step over ``records`` declarations."""
    codec = codec_for("declarations")
    confluent = codec_for("declarations", "confluent", 1)
    declaration = example_record("declarations")
    batch = [declaration] * records
    encoded = [codec.encode(r) for r in batch]
    confluent_encoded = [confluent.encode(r) for r in batch]
    lines = [dumps("declarations", r) for r in batch]
    old = _old_inspection_bytes(records)
    inspection_codec = codec_for("inspection-results")
    steps: dict[str, Callable[[], object]] = {
        "encode_per_s": lambda: [codec.encode(r) for r in batch],
        "decode_per_s": lambda: [codec.decode(b) for b in encoded],
        "encode_decode_per_s": lambda: [codec.decode(codec.encode(r)) for r in batch],
        "decode_confluent_per_s": lambda: [confluent.decode(b) for b in confluent_encoded],
        "decode_old_version_per_s": lambda: [inspection_codec.decode(b) for b in old],
        "validate_per_s": lambda: [validate("declarations", r) for r in batch],
        "dumps_per_s": lambda: [dumps("declarations", r) for r in batch],
        "parse_line_per_s": lambda: [parse_line("declarations", line) for line in lines],
    }
    figures = {name: best_rate(step, records, repeat) for name, step in steps.items()}
    figures["declaration_bytes"] = float(len(encoded[0]))
    return figures


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the codec bench and print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    figures = measure(args.records, args.repeat)
    return emit("codec", records=args.records, items_per_declaration=3, **figures)


if __name__ == "__main__":
    main()
