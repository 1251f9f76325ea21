"""``zeikan broker | topics | publish | tail`` against an embedded broker of each test's own."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zeikan.schemas import jsonl
from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DEAD_LETTERS, DECLARATIONS, INPUT_TOPICS, TOPICS
from zeikan.schemas.examples import example_record
from zeikan.errors import ZeikanError
from zeikan.cli import main as cli
from zeikan.streams.kafka.broker import EmbeddedBroker
from zeikan.cli.kafka import MAX_REPORTED_ERRORS
from zeikan.streams.kafka.kafka_io import describe_topics, read_topic

ID_FIELDS = {
    "declarations": "declaration_id",
    "scans": "scan_id",
    "inspection-results": "inspection_id",
    "decisions": "decision_id",
}
"""A field that may differ between otherwise equal example records of each topic."""

runner = CliRunner()
MakeBroker = Callable[..., EmbeddedBroker]


def zeikan(*args: str) -> tuple[int, str, str]:
    """Run the root CLI in-process: (exit code, stdout, stderr).

    A :class:`ZeikanError` counts as exit 1 with its message on stderr, as ``cli.main``
    does (tested on its own below).
    """
    result = runner.invoke(cli.app, list(args), catch_exceptions=True)
    if isinstance(result.exception, ZeikanError):
        return 1, result.stdout, f"{result.stderr}error: {result.exception}\n"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def examples(topic: str, count: int) -> list[dict]:
    """``count`` distinct valid records of ``topic``."""
    records = []
    for index in range(count):
        record = example_record(topic)
        record[ID_FIELDS[topic]] = f"{record[ID_FIELDS[topic]]}-{index}"
        records.append(record)
    return records


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def stored(bootstrap: str, topic: str) -> int:
    return sum(info.messages for info in describe_topics(bootstrap, [topic]))


@pytest.mark.parametrize("topic", list(ID_FIELDS))
def test_publish_then_tail_returns_every_record_equal(
    topic: str, fresh_broker: MakeBroker, tmp_path: Path
) -> None:
    broker = fresh_broker(partitions=4)
    records = examples(topic, 60)
    jsonl.write_jsonl(tmp_path / "in.jsonl", topic, records)

    code, _, err = zeikan("publish", topic, str(tmp_path / "in.jsonl"), "-b", broker.bootstrap)
    assert code == 0, err
    assert f"published 60 records to {topic}" in err
    code, out, err = zeikan(
        "tail", topic, "--json", "--from-beginning", "--limit", "60", "-b", broker.bootstrap
    )
    assert code == 0, err
    back = [jsonl.parse_line(topic, line) for line in out.splitlines()]
    assert sorted(back, key=repr) == sorted(records, key=repr)


def test_publish_keys_records_by_the_contract_key(fresh_broker: MakeBroker, tmp_path: Path) -> None:
    broker = fresh_broker()
    records = examples("declarations", 5)
    jsonl.write_jsonl(tmp_path / "in.jsonl", "declarations", records)
    assert zeikan("publish", "declarations", str(tmp_path / "in.jsonl"), "-b", broker.bootstrap)[0] == 0
    got = read_topic(broker.bootstrap, "declarations", from_beginning=True, limit=5)
    assert {m.key for m in got} == {r["declaration_id"].encode() for r in records}


def _mixed_file(tmp_path: Path) -> tuple[Path, dict[int, str], list[str]]:
    """A file with 3 good records and bad lines at known line numbers (and a blank line)."""
    good = [jsonl.dumps("declarations", r) for r in examples("declarations", 3)]
    bad_container = example_record("declarations")
    bad_container["containers"][0] = "CSQU3054384"
    bad = {
        2: "{not json",
        4: jsonl.dumps("declarations", bad_container),
        6: json.dumps({"declaration_id": "D1"}),
    }
    lines = [good[0], bad[2], good[1], bad[4], "", bad[6], good[2]]
    return write_lines(tmp_path / "mixed.jsonl", lines), bad, good


def test_a_file_with_bad_lines_is_refused_whole(fresh_broker: MakeBroker, tmp_path: Path) -> None:
    broker = fresh_broker()
    path, bad, _ = _mixed_file(tmp_path)

    code, _, err = zeikan("publish", "declarations", str(path), "-b", broker.bootstrap)

    assert code == 1
    reported = [line for line in err.splitlines() if line.startswith("line ")]
    assert [line.split(":")[0] for line in reported] == ["line 2", "line 4", "line 6"]
    assert "DECODE" in reported[0] and "containers[0]" in reported[1] and "SCHEMA" in reported[2]
    assert "3 of 6 records are invalid, nothing was published" in err
    assert "Traceback" not in err
    assert stored(broker.bootstrap, "declarations") == 0
    assert stored(broker.bootstrap, "dead-letters") == 0


def test_only_the_first_bad_lines_are_listed(tmp_path: Path) -> None:
    lines = ["{oops"] * (MAX_REPORTED_ERRORS + 5)
    path = write_lines(tmp_path / "bad.jsonl", lines)
    code, _, err = zeikan("publish", "declarations", str(path), "-b", "127.0.0.1:1")
    assert code == 1  # refused before any broker is contacted
    assert sum(line.startswith("line ") for line in err.splitlines()) == MAX_REPORTED_ERRORS
    assert "... and 5 more bad lines" in err


def test_dead_letter_sends_bad_lines_there_and_publishes_the_rest(
    fresh_broker: MakeBroker, tmp_path: Path
) -> None:
    broker = fresh_broker()
    path, bad, good = _mixed_file(tmp_path)

    code, _, err = zeikan("publish", "declarations", str(path), "--dead-letter", "-b", broker.bootstrap)

    assert code == 0, err
    assert "published 3 records to declarations, 3 to dead-letters" in err
    published = read_topic(broker.bootstrap, "declarations", from_beginning=True, limit=3)
    decode = codec_for(DECLARATIONS.name).decode
    assert sorted(jsonl.dumps("declarations", decode(m.value)) for m in published) == sorted(good)
    letters = read_topic(broker.bootstrap, DEAD_LETTERS.name, from_beginning=True, limit=3)
    decoded = sorted((codec_for(DEAD_LETTERS.name).decode(m.value) for m in letters),
                     key=lambda r: r["offset"])  # fmt: skip
    assert [(d["offset"], d["raw"].decode()) for d in decoded] == sorted(bad.items())
    assert [d["error_kind"] for d in decoded] == ["DECODE", "SEMANTIC", "SCHEMA"]
    assert {(d["source_topic"], d["partition"]) for d in decoded} == {("declarations", -1)}
    assert "check digit" in decoded[1]["error_message"]


def test_tail_json_of_dead_letters_shows_raw_bytes_as_base64(
    fresh_broker: MakeBroker, tmp_path: Path
) -> None:
    broker = fresh_broker()
    path = write_lines(tmp_path / "one-bad.jsonl", ["{broken"])
    zeikan("publish", "scans", str(path), "--dead-letter", "-b", broker.bootstrap)
    code, out, _ = zeikan("tail", "dead-letters", "--json", "--from-beginning", "--limit", "1",
                          "-b", broker.bootstrap)  # fmt: skip
    assert code == 0
    [letter] = [json.loads(line) for line in out.splitlines()]
    assert base64.b64decode(letter["raw"]) == b"{broken"
    assert letter["source_topic"] == "scans"


def test_tail_table_shows_the_topic_columns(
    fresh_broker: MakeBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    broker = fresh_broker()
    jsonl.write_jsonl(tmp_path / "d.jsonl", "decisions", examples("decisions", 2))
    zeikan("publish", "decisions", str(tmp_path / "d.jsonl"), "-b", broker.bootstrap)
    code, out, err = zeikan("tail", "decisions", "--from-beginning", "--limit", "2",
                            "-b", broker.bootstrap)  # fmt: skip
    assert code == 0
    assert "decisions (2 records)" in out and "PRE_ARRIVAL" in out
    assert "2 records from decisions" in err


def test_topics_create_provisions_the_contract_topics(fresh_broker: MakeBroker) -> None:
    broker = fresh_broker(topics=())
    code, out, err = zeikan("topics", "--create", "--partitions", "3", "-b", broker.bootstrap)
    assert code == 0, err
    assert f"created {len(TOPICS)} topics" in err
    assert {i.name: i.partitions for i in describe_topics(broker.bootstrap)} == dict.fromkeys(TOPICS, 3)
    assert all(name in out for name in TOPICS)
    code, _, err = zeikan("topics", "--create", "-b", broker.bootstrap)
    assert "created 0 topics" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["publish", "declarations", "missing.jsonl"], "cannot read missing.jsonl"),
        (["publish", "no-such-topic", "x.jsonl"], "unknown topic 'no-such-topic'"),
        (["tail", "no-such-topic"], "unknown topic 'no-such-topic'"),
        (["topics", "-b", "127.0.0.1:1"], "no Kafka broker reachable at 127.0.0.1:1"),
        (["tail", "decisions", "-b", "127.0.0.1:1"], "no Kafka broker reachable"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["zeikan", *args])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_publish_to_a_topic_missing_on_the_cluster_says_how_to_create_it(
    fresh_broker: MakeBroker, tmp_path: Path
) -> None:
    broker = fresh_broker(topics=())
    jsonl.write_jsonl(tmp_path / "in.jsonl", "declarations", examples("declarations", 1))
    code, _, err = zeikan("publish", "declarations", str(tmp_path / "in.jsonl"), "-b", broker.bootstrap)
    assert code == 1
    assert "'declarations' does not exist on the cluster" in err and "zeikan topics --create" in err


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_zeikan_script_reports_an_unreachable_broker_without_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zeikan.cli.main", "topics", "-b", f"127.0.0.1:{_closed_port()}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "no Kafka broker reachable" in done.stderr and "Traceback" not in done.stderr


def test_broker_command_serves_until_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "ZEIKAN_PARTITIONS": "2"}
    command = [sys.executable, "-m", "zeikan.cli.main", "broker", "--storage", "memory", "--port", "0",
               "--topic", "app-internal", "--log-file", str(tmp_path / "tansu.log")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        bootstrap = process.stdout.readline().strip()
        infos = {i.name: i.partitions for i in describe_topics(bootstrap)}
        assert infos == dict.fromkeys([*TOPICS, "app-internal"], 2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        process.kill()
    host, port = bootstrap.rsplit(":", 1)
    with socket.socket() as sock:
        assert sock.connect_ex((host, int(port))) != 0, "Tansu must stop with the command"
    assert (tmp_path / "tansu.log").read_text()


@pytest.mark.slow
def test_a_simulated_day_published_and_tailed_back_is_equal(
    fresh_broker: MakeBroker, tmp_path: Path
) -> None:
    broker = fresh_broker()
    day = tmp_path / "day"
    code, _, err = zeikan("simulate", "--out", str(day), "--days", "1", "--seed", "1", "--no-images")
    assert code == 0, err
    for topic in INPUT_TOPICS:
        lines = (day / f"{topic}.jsonl").read_text().splitlines()
        assert lines, f"the simulator wrote no {topic}"
        code, _, err = zeikan("publish", topic, str(day / f"{topic}.jsonl"), "-b", broker.bootstrap)
        assert code == 0, err
        code, out, err = zeikan("tail", topic, "--json", "--from-beginning", "--limit",
                                str(len(lines)), "--timeout", "10", "-b", broker.bootstrap)  # fmt: skip
        assert code == 0, err
        sent = sorted((jsonl.parse_line(topic, line) for line in lines), key=repr)
        back = sorted((jsonl.parse_line(topic, line) for line in out.splitlines()), key=repr)
        assert back == sent
