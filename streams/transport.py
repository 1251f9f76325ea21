"""Faust's aiokafka transport with a configurable consumer fetch wait, for the embedded Tansu broker.

Faust hard-codes ``fetch_max_wait_ms=1500`` for the worker's group consumer. Kafka
answers a long-poll fetch as soon as data arrives, but Tansu holds it for the whole
wait, so every record an agent read waited ~0.4 s at the median and up to 1.5 s
(measured on Tansu: 1500 ms wait -> p50 400 ms / max 750 ms delivery; 5 ms wait ->
p50 3.5 ms). :func:`install` swaps in a transport whose consumer waits
``fetch_wait_ms`` instead.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # read by AIOKafkaConsumer.start() when it builds its fetcher
        consumer._fetch_max_wait_ms = transport.fetch_wait_ms  # type: ignore[attr-defined]  # noqa: SLF001
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class ShortFetchTransport(faust_aiokafka.Transport):
    """The aiokafka transport; its group consumer's fetches wait at most ``fetch_wait_ms``."""

    Consumer = _Consumer

    def __init__(self, url: Any, app: faust.App, fetch_wait_ms: int) -> None:
        super().__init__(url, app)
        self.fetch_wait_ms = fetch_wait_ms


def install(app: faust.App, fetch_wait_ms: int) -> None:
    """Make ``app`` consume through :class:`ShortFetchTransport` (call before its topics are created)."""
    app.transport = ShortFetchTransport(app.conf.broker_consumer, app, fetch_wait_ms)
