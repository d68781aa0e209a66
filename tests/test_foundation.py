"""The foundation: settings parsing, health check, a real worker round trip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from config.env import ImproperEnv, env_bool, env_int

ROOT = Path(__file__).resolve().parent.parent


def _run_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "DEBUG"}}
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_malformed_boolean_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperEnv, match="SOME_FLAG"):
        env_bool("SOME_FLAG", False)


def test_a_malformed_integer_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_COUNT", "12abc")
    with pytest.raises(ImproperEnv, match="SOME_COUNT"):
        env_int("SOME_COUNT", 3)


def test_production_refuses_to_start_without_secret_key(tmp_path: Path) -> None:
    result = _run_settings(
        {"DJANGO_ENV": "production", "ALLOWED_HOSTS": "grants.example.org", "VAR_DIR": str(tmp_path)}
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts(tmp_path: Path) -> None:
    result = _run_settings({"DJANGO_ENV": "production", "SECRET_KEY": "x" * 64, "VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is required" in result.stderr


def test_a_malformed_database_url_stops_the_start(tmp_path: Path) -> None:
    result = _run_settings({"DATABASE_URL": "nosuchdb://x", "VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_check_deploy_is_clean_in_production(tmp_path: Path) -> None:
    result = _run_settings(
        {
            "DJANGO_ENV": "production",
            "SECRET_KEY": "a-long-random-production-secret-key-" + "k8Yz" * 10,
            "ALLOWED_HOSTS": "grants.example.org",
            "VAR_DIR": str(tmp_path),
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_healthz_names_the_missing_worker(client: Client) -> None:
    from config.celery import app

    app.control.purge()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "ok", "worker": "no worker answered"}


@pytest.mark.django_db
def test_healthz_names_an_unreachable_broker(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from config import health

    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(health.celery_app, "connection_for_write", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable"
    assert response.json()["worker"] == "unavailable"


@pytest.mark.worker
def test_a_task_round_trips_through_a_real_worker_and_redis(celery_worker_process: subprocess.Popen[bytes]) -> None:
    from config.celery import ping

    assert ping.delay("bonjour").get(timeout=30) == "pong:bonjour"


@pytest.mark.worker
def test_healthz_is_green_with_a_live_worker(celery_worker_process: subprocess.Popen[bytes], client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "worker": "ok"}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/grants", "PostgreSQL is not answering on 127.0.0.1:1"),
        ("REDIS_URL", "redis://127.0.0.1:1/0", "Redis is not answering on 127.0.0.1:1"),
    ],
)
def test_the_suite_stops_at_once_naming_a_missing_service(variable: str, value: str, message: str) -> None:
    env = {**os.environ, variable: value}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_foundation.py", "-q", "-k", "malformed_boolean"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    assert message in result.stdout + result.stderr
