"""The web app as ``zeikan run`` starts it: one demo officer for every simulated office, a fresh password."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

from zeikan.sim.catalog import OFFICES
from zeikan.ui.users import hash_password

DEMO_USER = "officer"


def start_demo_ui(bootstrap: str, workdir: Path, port: int, image_store: Path, rules_path: str) -> tuple[subprocess.Popen, str]:
    """Start ``zeikan ui`` on ``port``; returns the process and the line that tells how to log in."""
    password = secrets.token_urlsafe(9)
    users = workdir / "ui-users.yaml"
    users.write_text(yaml.safe_dump({"users": {DEMO_USER: {"name": "Demo officer", "password_hash": hash_password(password),
                                                             "offices": [o.office_id for o in OFFICES]}}}))
    users.chmod(0o600)
    env = {**os.environ, "ZEIKAN_BOOTSTRAP": bootstrap, "ZEIKAN_UI_USERS": str(users), "ZEIKAN_UI_DATA": str(workdir / "ui"),
           "ZEIKAN_IMAGE_STORE": str(image_store), "ZEIKAN_RULES": rules_path}
    log = (workdir / "ui.log").open("ab")
    process = subprocess.Popen([sys.executable, "-m", "zeikan.cli.main", "ui", "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, f"officers' worklist: http://127.0.0.1:{port}/worklist (user {DEMO_USER}, password {password})"
