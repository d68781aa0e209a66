"""Throwaway infrastructure for the fault-injection tests: a private PostgreSQL cluster
and a private Redis server (loopback, ports of their own, stopped and restarted at will
without touching the machine's shared services), and the product's own processes
(gunicorn, Celery workers, beat) started against them.

Every wait here is bounded in time; every process is started in its own session so
that it (and its children) can be signalled as a group and always reaped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import requests
import requests.adapters
from urllib3.util.retry import Retry

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
STACK_SETTINGS = "tests.reliability.stack_settings"
PASSWORD = "pw"  # tests.factories.UserFactory's


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def free_port(first: int, tries: int = 200) -> int:
    """The first port from ``first`` nobody listens on (loopback)."""
    for port in range(first, first + tries):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}..{first + tries}")


def _postgres_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    return candidates[-1].parent


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and the server refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class PrivatePostgres:
    """A PostgreSQL cluster of our own in a temporary directory, on 127.0.0.1 only."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="rel-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port(55432)
        subprocess.run(
            _as_postgres(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def _ctl(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), *args]),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {result.stderr}\n{_tail(self.log)}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=100 "
            # A throwaway cluster: a process crash keeps the OS cache, only an OS crash needs fsync.
            "-c fsync=off -c full_page_writes=off"
        )
        self._ctl("-o", options, "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: disconnect everyone, clean shutdown; ``immediate``: like a crash (recovery at start)."""
        self._ctl("-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, statement: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(statement)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def create_database(self, name: str, template: str | None = None) -> None:
        suffix = f" TEMPLATE {template}" if template else ""
        self.execute(f'CREATE DATABASE "{name}"{suffix}')

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def tool(self, name: str) -> str:
        """pg_dump / pg_restore of the server's own version."""
        return str(self.bin / name)

    def close(self) -> None:
        if self.running():
            with contextlib.suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server of our own, in memory only: stopping it loses every queued message,
    the harshest case for the outbox relay and the documents sweep."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="rel-redis-"))
        self.port = free_port(56379)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        assert self.proc is None, "already running"
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.starts += 1
        wait_until(self.ping, timeout=20, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Proc:
    """One process of the product, in its own session, its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self.killed = False  # by the test, on purpose
        self.options: dict[str, Any] = {}
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (a worker and its pool children)."""
        self.killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        if sig == signal.SIGKILL:
            self.popen.wait(timeout=20)

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        # Whatever is left of the group (a pool child outliving its parent).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def tail(self, lines: int = 60) -> str:
        return f"--- {self.name} ({self.log}) ---\n{_tail(self.log, lines)}"


class Stack:
    """The product's processes (web, workers, beat, manage.py) on one database, one Redis
    and one media directory, configured by tests/reliability/stack_settings.py."""

    def __init__(
        self,
        *,
        root: Path,
        database_url: str,
        redis_url: str,
        media_root: Path,
        beat_seconds: float = 2.0,
        sweep_after_seconds: float = 3.0,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.database_url = database_url
        self.redis_url = redis_url
        self.media_root = media_root
        self.mailbox = root / "mailbox.jsonl"
        self.procs: list[Proc] = []
        self.port = free_port(58000)
        self.base_url = f"http://127.0.0.1:{self.port}"
        (root / "var").mkdir(parents=True, exist_ok=True)
        media_root.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": STACK_SETTINGS,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "VAR_DIR": str(root / "var"),
            "RELIABILITY_MEDIA_ROOT": str(media_root),
            "RELIABILITY_MAILBOX": str(self.mailbox),
            "RELIABILITY_BEAT_SECONDS": str(beat_seconds),
            "RELIABILITY_SWEEP_AFTER_SECONDS": str(sweep_after_seconds),
            "SECRET_KEY": "reliability-tests-" + "x" * 40,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.env.pop("GRANTS_TEST_RENDER_DELAY", None)
        self._sequence = 0

    # --- commands ---------------------------------------------------------------------

    def manage(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def scenario(self, *args: str, timeout: float = 300) -> Any:
        """``python -m tests.reliability.scenario …`` on this stack; its JSON answer."""
        result = subprocess.run(
            [PYTHON, "-m", "tests.reliability.scenario", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(f"scenario {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    # --- processes --------------------------------------------------------------------

    def _start(self, name: str, command: list[str]) -> Proc:
        self._sequence += 1
        proc = Proc(name, command, self.env, self.root / f"{self._sequence:02d}-{name}.log")
        self.procs.append(proc)
        return proc

    def web(self, workers: int = 2, threads: int = 4) -> Proc:
        proc = self._start(
            "web",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                "--no-control-socket",  # its default path is one per user, shared with any other gunicorn
            ],
        )

        def answers() -> bool:
            if not proc.alive():
                raise AssertionError("gunicorn exited\n" + proc.tail())
            try:
                requests.get(self.base_url + "/healthz", timeout=5)
            except requests.RequestException:
                return False
            return True

        wait_until(answers, timeout=60, what="gunicorn to answer")
        return proc

    def worker(self, concurrency: int = 2, queues: str = "default,pdf") -> Proc:
        hostname = f"rel-{os.getpid()}-{self._sequence + 1}@localhost"
        proc = self._start(
            "worker",
            [
                PYTHON,
                "-m",
                "tests.reliability.run_celery",
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                "-n",
                hostname,
                "-l",
                "WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
        )
        proc.hostname = hostname  # type: ignore[attr-defined]
        proc.options = {"concurrency": concurrency, "queues": queues}
        probe = self.celery_probe()
        try:

            def pong() -> bool:
                if not proc.alive():
                    raise AssertionError("celery worker exited\n" + proc.tail())
                try:
                    return bool(probe.control.ping(destination=[hostname], timeout=0.5))
                except Exception:  # kombu keeps pooled connections: the first use after a Redis restart fails
                    return False

            wait_until(pong, timeout=60, what="the celery worker to answer a ping")
        finally:
            probe.close()
        return proc

    def beat(self) -> Proc:
        return self._start("beat", [PYTHON, "-m", "tests.reliability.run_celery", "beat", "-l", "INFO"])

    def supervise(self) -> list[str]:
        """What a process supervisor (systemd ``Restart=always``) does: start again each
        worker that died without the test killing it. Returns how each one died."""
        deaths = []
        for proc in list(self.procs):
            if proc.name == "worker" and not proc.killed and not proc.alive() and not proc.options.get("replaced"):
                lines = proc.log.read_text(errors="replace").splitlines()
                why = next((line for line in lines if " CRITICAL " in line), f"exit status {proc.popen.returncode}")
                deaths.append(f"worker {proc.options['queues']} died: {why.strip()[:300]}")
                proc.options["replaced"] = True
                self.worker(concurrency=proc.options["concurrency"], queues=proc.options["queues"])
        return deaths

    def celery_probe(self) -> Any:
        """A Celery app of the test process, on this stack's broker (control commands only)."""
        from celery import Celery

        return Celery("reliability-probe", broker=self.redis_url, set_as_current=False)

    def stop(self, grace: float = 10) -> None:
        """SIGTERM to every process at once, SIGKILL to whatever is left after ``grace``."""
        for proc in self.procs:
            if proc.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(proc.alive() for proc in self.procs):
            time.sleep(0.2)
        for proc in self.procs:
            proc.stop(timeout=0)

    def logs(self) -> str:
        return "\n".join(proc.tail() for proc in self.procs)

    # --- observations -----------------------------------------------------------------

    def mails(self) -> list[dict[str, Any]]:
        """Every e-mail the stack's processes sent (tests/reliability/mailbox.py)."""
        if not self.mailbox.exists():
            return []
        return [json.loads(line) for line in self.mailbox.read_text().splitlines() if line.strip()]

    def mails_per_notification(self) -> Counter[int]:
        return Counter(int(m["notification"]) for m in self.mails() if m.get("notification") is not None)

    def health(self) -> dict[str, Any]:
        try:
            response = requests.get(self.base_url + "/healthz", timeout=10)
            return {"status": response.status_code, **response.json()}
        except (requests.RequestException, ValueError) as exc:
            return {"status": None, "error": repr(exc)}


#: Like a browser: an idempotent request sent on a kept-alive connection that the server
#: closed meanwhile (gunicorn's keep-alive expiry racing the client) is sent again once on a
#: new connection. POSTs are never retried: a lost one is reported.
_IDEMPOTENT_RETRY = Retry(
    total=1,
    connect=1,
    read=1,
    status=0,
    allowed_methods=frozenset({"GET", "HEAD"}),
    respect_retry_after_header=False,  # a 503 with Retry-After is an answer the tests assert on
)


class Api:
    """A loopback HTTP client of /api/v1/ (one requests.Session per thread)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._local = threading.local()
        self.tokens: dict[str, str] = {}

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Accept-Language"] = "fr"
            session.mount("http://", requests.adapters.HTTPAdapter(max_retries=_IDEMPOTENT_RETRY))
            self._local.session = session
        return session

    def token(self, username: str, *, tries: int = 20) -> str:
        if username not in self.tokens:
            for _ in range(tries):
                response = self._session().post(
                    f"{self.base_url}/api/v1/auth/token/",
                    json={"username": username, "password": PASSWORD},
                    timeout=15,
                )
                if response.status_code == 200:
                    self.tokens[username] = response.json()["token"]
                    break
                time.sleep(0.5)
            else:
                raise AssertionError(f"no token for {username}: {response.status_code} {response.text[:300]}")
        return self.tokens[username]

    def request(self, method: str, path: str, user: str, *, timeout: float = 30, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Token {self.token(user)}"}
        return self._session().request(
            method, f"{self.base_url}/api/v1/{path.lstrip('/')}", headers=headers, timeout=timeout, **kwargs
        )

    def transition(self, app_id: str, name: str, user: str, payload: dict[str, Any] | None = None) -> requests.Response:
        return self.request("POST", f"applications/{app_id}/transitions/{name}/", user, json=payload or {})

    def state(self, app_id: str, user: str, *, timeout: float = 60) -> str:
        """The application's state, asked until the API answers (bounded)."""

        def answer() -> str | None:
            try:
                response = self.request("GET", f"applications/{app_id}/", user, timeout=10)
            except requests.RequestException:
                return None
            return response.json()["state"] if response.status_code == 200 else None

        return str(wait_until(answer, timeout=timeout, what=f"the state of {app_id}", interval=0.5))


def csrf_token(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=15)
    assert page.status_code == 200, (url, page.status_code)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, f"no CSRF token on {url}"
    return token.group(1)


def web_sign_in(base_url: str, username: str) -> requests.Session:
    """A browser's session, signed in through the sign-in form."""
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(max_retries=_IDEMPOTENT_RETRY))
    login = f"{base_url}/accounts/login/"
    response = session.post(
        login,
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf_token(session, login)},
        headers={"Referer": login},
        timeout=15,
        allow_redirects=False,
    )
    assert response.status_code == 302, (response.status_code, response.text[:500])
    return session


@contextlib.contextmanager
def orm_on(pg: PrivatePostgres, name: str, blocker: Any) -> Iterator[None]:
    """The test process's Django ORM on database ``name`` of the private cluster, for the block
    (``blocker``: pytest-django's ``django_db_blocker``)."""
    from django.db import connections

    port = pg.port
    connection = connections["default"]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(NAME=name, HOST="127.0.0.1", PORT=str(port), USER="postgres", PASSWORD="")
    try:
        with blocker.unblock():
            yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
