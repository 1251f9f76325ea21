"""``zeikan run`` starts the web app with a demo officer: it follows the broker and its printed login works."""

from __future__ import annotations

import re

import httpx

from tests.streams.worker_harness import wait_until
from zeikan.streams.kafka.broker import free_port
from zeikan.ui.demo import start_demo_ui


def test_the_demo_web_app_follows_the_broker_and_the_printed_login_works(fresh_broker, tmp_path):
    broker = fresh_broker()
    port = free_port()
    process, line = start_demo_ui(broker.bootstrap, tmp_path, port, tmp_path / "images", "")
    try:
        url, user, password = re.fullmatch(r"officers' worklist: (\S+) \(user (\S+), password (\S+)\)", line).groups()
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)

        def up() -> bool:
            try:
                return client.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, 60, tmp_path / "ui.log")
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        assert client.post("/login", data={"csrf": token, "user": user, "password": "wrong"}).status_code == 401
        page = client.post("/login", data={"csrf": token, "user": user, "password": password}, follow_redirects=True)
        assert page.status_code == 200 and str(page.url) == url and "Demo officer" in page.text
    finally:
        process.terminate()
        process.wait(20)
