"""Fixtures of the fault-injection tests (tests/reliability/infra.py does the work).

- ``private_pg``: one throwaway PostgreSQL cluster for the session, with a migrated
  template database; each stack gets a fresh copy of it (``CREATE DATABASE … TEMPLATE``).
- ``private_redis``: a throwaway redis-server per test.
- ``make_stack``: the product's processes on a fresh database, the test's Redis and a
  media directory; stopped (and their logs printed when the test failed) afterwards.
- ``orm``: ``with orm(stack): …`` runs the test process's ORM on the stack's database.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.infra import PYTHON, ROOT, STACK_SETTINGS, PrivatePostgres, PrivateRedis, Stack, orm_on

TEMPLATE = "rel_template"
_numbers = itertools.count(1)
_failed = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_failed] = report.failed


def migrate(url: str) -> None:
    import os

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": STACK_SETTINGS, "DATABASE_URL": url, "SECRET_KEY": "x" * 50}
    result = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.start()
        pg.create_database(TEMPLATE)
        migrate(pg.url(TEMPLATE))
        yield pg
    finally:
        pg.close()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis()
    try:
        redis.start()
        yield redis
    finally:
        redis.close()


@pytest.fixture
def make_stack(
    request: pytest.FixtureRequest, private_pg: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def make(*, media_root: Path | None = None, database: str | None = None, **options: Any) -> Stack:
        if not private_pg.running():
            private_pg.start()
        name = database or f"rel_{next(_numbers)}"
        if database is None:
            private_pg.create_database(name, template=TEMPLATE)
        root = tmp_path / f"stack-{len(stacks) + 1}"
        stack = Stack(
            root=root,
            database_url=private_pg.url(name),
            redis_url=private_redis.url(0),
            media_root=media_root or root / "media",
            **options,
        )
        stack.database = name  # type: ignore[attr-defined]
        stacks.append(stack)
        return stack

    try:
        yield make
    finally:
        for stack in stacks:
            stack.stop()
        if request.node.stash.get(_failed, False):
            for stack in stacks:
                print(stack.logs())


@pytest.fixture
def orm(private_pg: PrivatePostgres, django_db_blocker: Any) -> Callable[[Stack], AbstractContextManager[None]]:
    def on(stack: Stack) -> AbstractContextManager[None]:
        return orm_on(private_pg, stack.database, django_db_blocker)  # type: ignore[attr-defined]

    return on
