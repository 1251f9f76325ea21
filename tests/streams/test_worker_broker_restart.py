"""A real ``zeikan worker`` against the durable broker while Tansu is SIGKILLed and started
again on the same port and storage (issue 17): it decides every declaration published before
and after, and none is overwritten (the broker's gate keeps it out until the restarted Tansu
has loaded the stored ends); readiness turns false while the broker is down and true again after."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.streams.pipeline_factories import history
from tests.streams.worker_harness import WorkerProcess, decision_ids_settle, publish_events, wait_until
from zeikan.bench.common import http_get
from zeikan.streams.kafka.broker import EmbeddedBroker

pytestmark = pytest.mark.timeout(300)
MakeBroker = Callable[..., EmbeddedBroker]


def test_a_worker_rides_out_a_broker_crash_and_decides_what_comes_after(durable_broker: MakeBroker, tmp_path) -> None:
    broker = durable_broker()
    declarations = history(days=2, per_day=60, seed=3)["declarations"]
    before, after = declarations[: len(declarations) // 2], declarations[len(declarations) // 2 :]
    worker = WorkerProcess(broker.bootstrap, tmp_path / "w")
    try:
        wait_until(lambda: http_get(worker.port, "/readyz")[0] == 200, 120, worker.log_path)
        publish_events(broker.bootstrap, [("declarations", d) for d in before])
        decision_ids_settle(broker.bootstrap, len(before), 90, worker.log_path, worker)
        logged = len(worker.log_text())
        broker.kill()
        wait_until(lambda: "Connect call failed" in worker.log_text()[logged:], 30, worker.log_path)  # it noticed
        broker.start()
        publish_events(broker.bootstrap, [("declarations", d) for d in after])
        decided = decision_ids_settle(broker.bootstrap, len(declarations), 120, worker.log_path, worker)
        assert {d["declaration_id"] for d in decided} == {d["declaration_id"] for d in declarations}
        assert worker.process.poll() is None, "the worker kept running"
    finally:
        worker.stop()


def test_readyz_is_false_while_the_broker_is_down(durable_broker: MakeBroker, tmp_path) -> None:
    broker = durable_broker()
    worker = WorkerProcess(broker.bootstrap, tmp_path / "w")
    try:
        wait_until(lambda: http_get(worker.port, "/readyz")[0] == 200, 120, worker.log_path)
        broker.kill()
        wait_until(lambda: http_get(worker.port, "/readyz")[0] == 503, 20, worker.log_path)
        broker.start()
        wait_until(lambda: http_get(worker.port, "/readyz")[0] == 200, 60, worker.log_path)
    finally:
        worker.stop()
