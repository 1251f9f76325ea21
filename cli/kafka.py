"""``zeikan broker | topics | publish | tail``: the embedded broker and moving events in and out.

Commands only wire things together: the broker is :class:`EmbeddedBroker`, Kafka I/O
is :mod:`zeikan.streams.kafka.kafka_io`, records are validated, encoded and decoded by
:mod:`zeikan.schemas`. Progress and summaries go to stderr, data (bootstrap address,
JSON lines) to stdout.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import fsspec
import typer
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from zeikan.schemas import jsonl
from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DEAD_LETTERS, TOPICS
from zeikan.schemas.dead_letters import Source, dead_letter_record
from zeikan.schemas.errors import ValidationError
from zeikan.streams.kafka.broker import DurableStorage, EmbeddedBroker
from zeikan.streams.kafka.broker_settings import BrokerSettings
from zeikan.streams.errors import BrokerStartFailed, InputFileError, InvalidRecords
from zeikan.streams.kafka.kafka_config import KafkaSettings
from zeikan.streams.kafka.kafka_io import (
    ConsumedRecord,
    describe_topics,
    ensure_topics,
    publish,
    read_topic,
    record_key,
)

MAX_REPORTED_ERRORS = 20
"""How many bad lines ``publish`` prints before summing up the rest."""
TAIL_ROWS = 25
"""Rows the live ``tail`` table keeps on screen."""
TAIL_FIELDS: dict[str, tuple[str, ...]] = {
    "declarations": ("declaration_id", "filed_at", "office_id", "importer_id", "origin_country",
                     "transport_mode", "items"),
    "scans": ("container_id", "scan_id", "scanned_at", "scanner_id", "office_id", "energy",
              "declaration_ids"),
    "inspection-results": ("declaration_id", "inspected_at", "inspection_type", "outcome",
                           "findings", "revenue_recovered"),
    "decisions": ("declaration_id", "stage", "action", "risk_score", "rule_hits",
                  "random_selected", "decided_at"),
    "dead-letters": ("source_topic", "partition", "offset", "error_kind", "error_message"),
    "scan-overdue": ("declaration_id", "office_id", "deadline", "missing_containers"),
}  # fmt: skip
"""The columns ``tail`` shows per topic (besides partition and offset)."""

BootstrapOption = Annotated[
    str | None,
    typer.Option("--bootstrap", "-b", help="Kafka bootstrap host:port [env ZEIKAN_BOOTSTRAP]."),
]
PartitionsOption = Annotated[
    int | None,
    typer.Option("--partitions", min=1, help="Partitions per topic [env ZEIKAN_PARTITIONS, 8]."),
]

err = Console(stderr=True, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``broker``, ``topics``, ``publish`` and ``tail`` to the root ``zeikan`` app."""
    app.command("broker")(broker_command)
    app.command("topics")(topics_command)
    app.command("publish")(publish_command)
    app.command("tail")(tail_command)


# -- broker -------------------------------------------------------------------------------


def broker_command(
    storage: Annotated[
        str | None,
        typer.Option(help="durable (local S3 server on --data-dir) or memory [env ZEIKAN_BROKER_STORAGE, durable]."),
    ] = None,
    data_dir: Annotated[
        str | None, typer.Option(help="Durable storage folder [env ZEIKAN_BROKER_DIR, var/broker].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Kafka port; 0 picks a free one [env ZEIKAN_BROKER_PORT, 9092].")
    ] = None,
    s3_port: Annotated[
        int | None, typer.Option(help="Local S3 server port, durable only [env ZEIKAN_S3_PORT, 9094].")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on and advertise [env ZEIKAN_BROKER_HOST].")
    ] = None,
    partitions: PartitionsOption = None,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", help="Extra topic to create (repeatable).")
    ] = None,
    log_file: Annotated[Path | None, typer.Option(help="Where Tansu writes its log.")] = None,
) -> None:
    """Run the embedded Kafka-compatible broker (Tansu) until Ctrl-C or SIGTERM.

    Durable by default: topics live in a local S3 server (rclone) on --data-dir and
    survive restarts; --storage memory keeps them in memory only. Creates every contract
    topic, then prints the bootstrap address on stdout.
    """
    settings = KafkaSettings.from_env(partitions=partitions)
    where = BrokerSettings.from_env(storage=storage, data_dir=data_dir, port=port, s3_port=s3_port, host=host)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    broker = EmbeddedBroker(
        where.port, settings.partitions, where.host, (*TOPICS, *(topic or ())), log_file,
        storage=where.storage, data_dir=where.data_dir, s3_port=where.s3_port,
    )  # fmt: skip
    with broker:
        typer.echo(broker.bootstrap)
        err.print(f"broker ready ({_storage_line(broker)}): {len(broker.topics)} topics x "
                  f"{broker.partitions} partitions, log {broker.log_path}; Ctrl-C stops it")  # fmt: skip
        while not stop.wait(0.5):
            if not broker.running:
                raise BrokerStartFailed("the broker or its storage exited", str(broker.log_path))
    err.print("broker stopped")


def _storage_line(broker: EmbeddedBroker) -> str:
    """Where the topics live, for the ready message (the credentials file is named, never read out)."""
    if not isinstance(broker.storage, DurableStorage):
        return "in memory: topics are lost when it stops"
    server = broker.storage.server
    return f"durable in {broker.data_dir}, S3 {server.endpoint}, credentials in {server.credentials_path}"


# -- topics -------------------------------------------------------------------------------


def topics_command(
    bootstrap: BootstrapOption = None,
    create: Annotated[bool, typer.Option(help="First create missing contract topics.")] = False,
    partitions: PartitionsOption = None,
) -> None:
    """List the cluster's topics with partition counts and end offsets."""
    settings = KafkaSettings.from_env(bootstrap=bootstrap, partitions=partitions)
    if create:
        created = ensure_topics(settings.bootstrap, TOPICS, settings.partitions, settings.replication)
        err.print(f"created {len(created)} topics: {', '.join(created) or '-'}")
    table = Table("topic", "partitions", "records", "end offsets", title=settings.bootstrap)
    for info in describe_topics(settings.bootstrap):
        offsets = " ".join(map(str, info.end_offsets))
        table.add_row(info.name, str(info.partitions), str(info.messages), offsets)
    Console().print(table)


# -- publish ------------------------------------------------------------------------------


def publish_command(
    topic: Annotated[str, typer.Argument(help="Contract topic, e.g. declarations.")],
    file: Annotated[str, typer.Argument(help="JSON Lines file (path or fsspec URL, .gz ok).")],
    dead_letter: Annotated[
        bool, typer.Option("--dead-letter", help="Send bad lines to dead-letters, publish the rest.")
    ] = False,
    rate: Annotated[float | None, typer.Option(min=0.001, help="Records per second.")] = None,
    bootstrap: BootstrapOption = None,
) -> None:
    """Validate every record of FILE, then publish them to TOPIC keyed per the contract.

    Without --dead-letter a file with any bad line is refused whole: nothing is sent.
    """
    settings = KafkaSettings.from_env(bootstrap=bootstrap)
    codec = codec_for(topic)
    good, bad = split_valid(read_lines(file, topic))
    if bad and not dead_letter:
        report_bad_lines(bad)
        raise InvalidRecords(file, len(bad), len(good) + len(bad))
    letters = [file_dead_letter(topic, line_no, raw, error) for line_no, raw, error in bad]
    dead_codec = codec_for(DEAD_LETTERS.name)
    describe_topics(settings.bootstrap, [topic, DEAD_LETTERS.name] if letters else [topic])
    outgoing = [(topic, codec.encode(r), record_key(topic, r)) for r in good] + [
        (DEAD_LETTERS.name, dead_codec.encode(r), record_key(DEAD_LETTERS.name, r)) for r in letters
    ]
    started = time.monotonic()
    with _progress(len(outgoing)) as progress:
        task = progress.add_task(f"publish {topic}", total=len(outgoing))
        publish(settings.bootstrap, outgoing, rate=rate, on_sent=lambda: progress.advance(task))
    elapsed = time.monotonic() - started
    err.print(f"published {len(good)} records to {topic}, {len(letters)} to {DEAD_LETTERS.name} "
              f"in {elapsed:.2f} s ({len(outgoing) / max(elapsed, 1e-9):,.0f} records/s)")  # fmt: skip


def read_lines(path: str, topic: str) -> Iterator[tuple[int, bytes, dict | ValidationError]]:
    """``(line_no, raw line, record or error)`` for each non-blank line of a local or fsspec file."""
    try:
        with fsspec.open(path, "rb", compression="infer") as handle:
            for line_no, line in enumerate(handle, start=1):
                if line.strip():
                    raw = line.rstrip(b"\r\n")
                    try:
                        yield line_no, raw, jsonl.parse_line(topic, raw)
                    except ValidationError as error:
                        yield line_no, raw, error
    except OSError as exc:
        raise InputFileError(path, exc.strerror or str(exc)) from None


def split_valid(
    lines: Iterable[tuple[int, bytes, dict | ValidationError]],
) -> tuple[list[dict], list[tuple[int, bytes, ValidationError]]]:
    """Separate valid records from ``(line_no, raw, error)`` of the bad lines."""
    good: list[dict] = []
    bad: list[tuple[int, bytes, ValidationError]] = []
    for line_no, raw, parsed in lines:
        if isinstance(parsed, ValidationError):
            bad.append((line_no, raw, parsed))
        else:
            good.append(parsed)
    return good, bad


def file_dead_letter(topic: str, line_no: int, raw: bytes, error: ValidationError) -> dict:
    """The DeadLetter of a bad file line: partition -1, offset = the line number."""
    return dead_letter_record(raw, Source(topic, -1, line_no), error.kind, str(error))


def report_bad_lines(bad: list[tuple[int, bytes, ValidationError]]) -> None:
    """Print the first :data:`MAX_REPORTED_ERRORS` bad lines and how many more there are."""
    for line_no, _, error in bad[:MAX_REPORTED_ERRORS]:
        err.print(f"line {line_no}: {error}", markup=False, highlight=False)
    if len(bad) > MAX_REPORTED_ERRORS:
        err.print(f"... and {len(bad) - MAX_REPORTED_ERRORS} more bad lines")


def _progress(total: int) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal or total == 0,
        transient=True,
    )


# -- tail ---------------------------------------------------------------------------------


def tail_command(
    topic: Annotated[str, typer.Argument(help="Contract topic, e.g. decisions.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines on stdout, no table.")] = False,
    from_beginning: Annotated[bool, typer.Option(help="Start at the oldest record.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after N records.")] = None,
    timeout: Annotated[
        float | None, typer.Option(min=0, help="Stop after S seconds without a record.")
    ] = None,
    bootstrap: BootstrapOption = None,
) -> None:
    """Print the records of TOPIC as they arrive: a live table, or JSON lines with --json."""
    settings = KafkaSettings.from_env(bootstrap=bootstrap)
    codec = codec_for(topic)
    records = read_topic(
        settings.bootstrap,
        topic,
        from_beginning=from_beginning,
        idle_timeout_s=math.inf if timeout is None else timeout,
        limit=limit,
    )
    stats = {"records": 0, "undecodable": 0}
    decoded = decode_records(records, codec.decode, stats)
    if as_json:
        for _, record in decoded:
            typer.echo(jsonl.dumps(topic, record))
    else:
        show_table(TailTable(topic), decoded, Console())
    skipped = f", {stats['undecodable']} undecodable" if stats["undecodable"] else ""
    err.print(f"{stats['records']} records from {topic}{skipped}")


def show_table(
    view: TailTable, decoded: Iterable[tuple[ConsumedRecord, dict]], console: Console
) -> None:
    """Redraw ``view`` live as records arrive; off a terminal, print it once at the end."""
    if not console.is_terminal:
        for message, record in decoded:
            view.add(message, record)
        console.print(view.render())
        return
    with Live(view.render(), console=console, auto_refresh=False) as live:
        for message, record in decoded:
            view.add(message, record)
            live.update(view.render(), refresh=True)


def decode_records(
    messages: Iterable[ConsumedRecord], decode: Callable[[bytes], dict], stats: dict[str, int]
) -> Iterator[tuple[ConsumedRecord, dict]]:
    """Decoded records; undecodable ones are reported on stderr, counted and skipped."""
    for message in messages:
        try:
            record = decode(message.value)
        except ValidationError as exc:
            stats["undecodable"] += 1
            err.print(f"partition {message.partition} offset {message.offset}: {exc}", markup=False)
            continue
        stats["records"] += 1
        yield message, record


class TailTable:
    """The last :data:`TAIL_ROWS` records of a topic as a rich table."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.fields = TAIL_FIELDS.get(topic, ())
        self.rows: deque[list[str]] = deque(maxlen=TAIL_ROWS)
        self.seen = 0

    def add(self, message: ConsumedRecord, record: dict) -> None:
        """Add one decoded record."""
        self.seen += 1
        cells = [str(message.partition), str(message.offset)]
        self.rows.append(cells + [cell_text(name, record.get(name)) for name in self.fields])

    def render(self) -> Table:
        """The table to draw now."""
        table = Table(title=f"{self.topic} ({self.seen} records)")
        for name in ("p", "offset", *self.fields):
            table.add_column(name, no_wrap=True, overflow="ellipsis", min_width=min(len(name), 8))
        for row in self.rows:
            table.add_row(*row)
        return table


def cell_text(name: str, value: Any) -> str:
    """Short text of one field: times as UTC, lists as counts."""
    if isinstance(value, list):
        return str(len(value))
    if isinstance(value, int) and not isinstance(value, bool) and name.endswith(("_at", "deadline")):
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)
