"""Start a private PostgreSQL cluster for the all-in-one run and the tests.

`LocalPostgres` runs `initdb` into `<data_dir>/cluster` (once; later starts reuse it) and
starts `postgres` on a free loopback port, its Unix socket inside the cluster directory, so
nothing touches a cluster the Debian package may have created. `initdb` refuses root, so as
root the cluster belongs to an unprivileged system user (`postgres` when it exists, else
`nobody`). Authentication is scram-sha-256 with a random password kept in
`<data_dir>/password` (mode 0600); `url` carries it. Like `LocalRedis`, the server gets a
parent-death signal and prints nothing itself; the caller announces it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Final, TypedDict

from microservices.common.redis_server import die_with_parent, free_port, wait_for_port

PG_BIN_GLOB: Final = "/usr/lib/postgresql/*/bin"  # Debian keeps the binaries off PATH
DB_USER: Final = "ce"
RUN_AS_CANDIDATES: Final = ("postgres", "nobody")


def find_pg_binary(name: str) -> str | None:
    """`name` on PATH, else in Debian's /usr/lib/postgresql/<major>/bin (highest major)."""
    found = shutil.which(name)
    if found:
        return found
    dirs = sorted(glob.glob(PG_BIN_GLOB), key=lambda d: int(Path(d).parent.name or 0))
    for directory in reversed(dirs):
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    return None


def postgres_available() -> bool:
    return all(find_pg_binary(tool) for tool in ("initdb", "postgres", "psql"))


def run_as_user() -> pwd.struct_passwd | None:
    """The unprivileged account the cluster runs as when we are root; None when not root."""
    if os.geteuid() != 0:
        return None
    for name in RUN_AS_CANDIDATES:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


class UnreachableDataDir(RuntimeError):
    """The cluster's unprivileged owner cannot reach the data directory (a 0700 parent)."""


class LocalPostgres:
    """A loopback PostgreSQL owned by this process; `url` is ready after `start()`.

    `fast=True` (tests, benchmarks) skips initdb's fsync and runs with fsync off: a crash of
    the machine may lose the cluster, a crash of a process never loses committed rows.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int = 0,
        *,
        database: str = "ce",
        fast: bool = False,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.database = database
        self._fast = fast
        self._temp = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="ce-pg-"))
        self.cluster_dir = self.data_dir / "cluster"
        self.log_path = self.data_dir / "postgres.log"
        self._account = run_as_user()
        self.password = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def url_for(self, database: str) -> str:
        return f"postgresql://{DB_USER}:{self.password}@{self.host}:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalPostgres:
        self._prepare_dirs()
        if not (self.cluster_dir / "PG_VERSION").exists():
            self._initdb()
        self.password = (self.data_dir / "password").read_text().strip()
        self._spawn()
        if not self._wait_ready():
            tail = self.log_tail()
            self.stop()  # a half-started server must not outlive this failed start
            raise RuntimeError(f"postgres did not start on {self.host}:{self.port}: {tail}")
        self._ensure_database(self.database)
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT: abort sessions, checkpoint); SIGKILL after 30 s."""
        if self._proc is not None:
            self._proc.send_signal(2)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def kill(self) -> None:
        """SIGKILL the postmaster (fault injection); `start()` recovers on the same port."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def cleanup(self) -> None:
        """Stop, and delete the data directory if it was a temporary one."""
        self.stop()
        if self._temp:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # ------------------------------------------------------------------ SQL as the admin

    def admin_sql(self, sql: str, database: str = "postgres") -> str:
        """Run one statement with psql as the cluster's superuser; returns its output."""
        psql = _require_binary("psql")
        env = {**os.environ, "PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "10"}
        args = [psql, "-h", self.host, "-p", str(self.port), "-U", DB_USER, "-d", database,
                "-v", "ON_ERROR_STOP=1", "-X", "-q", "-t", "-A", "-c", sql]  # fmt: skip
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self, name: str, template: str | None = None) -> str:
        """CREATE DATABASE (optionally as a copy of `template`); returns its URL."""
        clause = f" TEMPLATE {_ident(template)}" if template else ""
        self.admin_sql(f"CREATE DATABASE {_ident(name)}{clause}")
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self.admin_sql(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # ------------------------------------------------------------------ internals

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._account is None:
            return
        # the unprivileged owner must reach the cluster: mkdtemp makes 0700 directories
        self.data_dir.chmod(0o755)
        for parent in self.data_dir.resolve().parents:
            if not os.stat(parent).st_mode & 0o001:
                raise UnreachableDataDir(
                    f"{parent} is not searchable by user {self._account.pw_name}; "
                    "choose a PG_DATA_DIR outside it"
                )

    def _initdb(self) -> None:
        password = secrets.token_urlsafe(24)
        secret = self.data_dir / "password"
        secret.write_text(password + "\n")
        secret.chmod(0o600)
        self.cluster_dir.mkdir(mode=0o700, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.data_dir, delete=False) as pwfile:
            pwfile.write(password + "\n")
        try:
            self._chown(self.cluster_dir, Path(pwfile.name))
            args = [_require_binary("initdb"), "-D", str(self.cluster_dir), "-U", DB_USER,
                    f"--pwfile={pwfile.name}", "--auth=scram-sha-256", "-E", "UTF8",
                    "--locale=C"]  # fmt: skip
            if self._fast:
                args.append("--no-sync")
            done = subprocess.run(args, capture_output=True, text=True, check=False,
                                  **self._user_kwargs())  # fmt: skip
        finally:
            os.unlink(pwfile.name)
        if done.returncode != 0:
            shutil.rmtree(self.cluster_dir, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {done.stderr.strip()[-500:]}")

    def _spawn(self) -> None:
        cluster = str(self.cluster_dir)
        args = [_require_binary("postgres"), "-D", cluster, "-p", str(self.port),
                "-h", self.host, "-k", cluster, "-c", "max_connections=200"]  # fmt: skip
        if self._fast:
            args += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self._chown(self.log_path)
            # own session: a Ctrl-C meant for us must not stop the database before we drained
            self._proc = subprocess.Popen(
                args, stdout=log, stderr=log, start_new_session=True,
                preexec_fn=die_with_parent(), **self._user_kwargs(),
            )  # fmt: skip
        finally:
            log.close()

    def _wait_ready(self, timeout_s: float = 30.0) -> bool:
        isready = find_pg_binary("pg_isready")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            if isready is not None:
                args = [isready, "-q", "-h", self.host, "-p", str(self.port), "-t", "1"]
                if subprocess.run(args, check=False).returncode == 0:
                    return True
            elif wait_for_port(self.host, self.port, timeout_s=0.2):
                return True
            time.sleep(0.05)
        return False

    def _ensure_database(self, name: str) -> None:
        _ident(name)  # a plain identifier: safe inside the literal below
        found = self.admin_sql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if found != "1":
            self.create_database(name)

    def _chown(self, *paths: Path) -> None:
        if self._account is not None:
            for path in paths:
                os.chown(path, self._account.pw_uid, self._account.pw_gid)

    def _user_kwargs(self) -> _AsUser:
        if self._account is None:
            return {}
        return {
            "user": self._account.pw_uid,
            "group": self._account.pw_gid,
            "extra_groups": [],
            "cwd": str(self.data_dir),
        }


class _AsUser(TypedDict, total=False):
    """subprocess arguments that run a child as the cluster's unprivileged owner."""

    user: int
    group: int
    extra_groups: list[int]
    cwd: str


def _require_binary(name: str) -> str:
    found = find_pg_binary(name)
    if found is None:
        raise RuntimeError(f"{name} not found (apt-get install postgresql)")
    return found


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'
