"""The gated TCP relay in front of the durable broker: bytes both ways while open; when
closed, the port refuses and relayed connections end; a backend that goes away ends its
clients' connections. Real sockets, an echo server as the backend."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from zeikan.child_process import free_port, port_open
from zeikan.streams.kafka.tcp_relay import TcpRelay

HOST = "127.0.0.1"


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def echo() -> Iterator[_EchoServer]:
    server = _EchoServer((HOST, 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def relay() -> Iterator[TcpRelay]:
    started = TcpRelay(HOST)
    yield started
    started.shutdown()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=5)
    sock.settimeout(5)
    return sock


def _exchange(sock: socket.socket, payload: bytes) -> bytes:
    sender = threading.Thread(target=sock.sendall, args=(payload,))  # reads while it writes: no deadlock
    sender.start()
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, "connection ended"
        got += chunk
    sender.join(5)
    return got


def test_open_relays_both_ways_and_close_refuses_and_ends_connections(echo: _EchoServer, relay: TcpRelay) -> None:
    port = free_port(HOST)
    assert not port_open(HOST, port)
    relay.open(port, echo.server_address[1])
    assert relay.is_open
    payload = bytes(range(256)) * 4096  # 1 MiB: more than any socket buffer, so flow control runs
    with _connect(port) as client:
        assert _exchange(client, payload) == payload
        relay.close()
        assert client.recv(1) == b"", "a relayed connection ends when the gate closes"
    assert not relay.is_open
    assert not port_open(HOST, port)
    relay.open(port, echo.server_address[1])  # opens again on the same port
    with _connect(port) as client:
        assert _exchange(client, b"again") == b"again"


def test_a_backend_that_ends_the_connection_ends_its_client_connection(relay: TcpRelay) -> None:
    with socket.socket() as backend:
        backend.bind((HOST, 0))
        backend.listen()
        port = free_port(HOST)
        relay.open(port, backend.getsockname()[1])
        with _connect(port) as client:
            client.sendall(b"hello")
            accepted, _ = backend.accept()
            accepted.settimeout(5)
            assert accepted.recv(5) == b"hello"
            accepted.close()  # the backend goes away (a killed Tansu)
            assert client.recv(1) == b"", "the client's connection ends with its backend connection"


def test_nothing_to_relay_to_closes_the_client_and_a_busy_port_is_an_oserror(relay: TcpRelay) -> None:
    dead_backend = free_port(HOST)
    port = free_port(HOST)
    relay.open(port, dead_backend)
    with _connect(port) as client:
        assert client.recv(1) == b"", "no backend: the client's connection is closed at once"
    with socket.socket() as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()
        with pytest.raises(OSError):
            relay.open(squatter.getsockname()[1], dead_backend)
    assert not relay.is_open
