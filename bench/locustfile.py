"""The HTTP load test's users (run by bench/load.py: locust --headless against gunicorn on
127.0.0.1 only). Each simulated user signs in once through /accounts/login/ (the form's
CSRF token, a real password check), then browses with a think time of 1 to 3 s:

- instructors (and the secretariat): the inbox, an application's staff page, the list
  of applications (/dossiers/, plain and with a ``?q=`` search), the API lists of
  applications and tasks;
- embassies: their inbox and the API list of applications;
- applicants (authorities with a handful of applications): their home, one of their
  application pages, the API list.

The accounts and application ids come from the JSON file named by BENCH_LOAD_CONFIG. At
the end the response times of the pages (sign-in excluded) are written to
BENCH_LOAD_PAGES as percentiles, over the whole run and once every user has signed in,
beside locust's own CSV.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from typing import Any

from locust import HttpUser, between, events, task

CONFIG: dict[str, Any] = json.loads(open(os.environ["BENCH_LOAD_CONFIG"], encoding="utf-8").read())  # noqa: SIM115
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PAGE_TIMES: list[tuple[float, float, bool]] = []  # (finished at, response time, failed)
SIGNED_IN: list[float] = []  # when each sign-in finished


@events.request.add_listener
def _page_times(name: str, response_time: float, exception: Any, **kwargs: Any) -> None:
    if name.startswith("sign-in"):
        if name == "sign-in (post)":
            SIGNED_IN.append(time.time())
        return
    PAGE_TIMES.append((time.time(), response_time, exception is not None))


def _summary(rows: list[tuple[float, float, bool]], seconds: float) -> dict[str, Any]:
    times = sorted(r[1] for r in rows)

    def pct(p: float) -> float | None:
        return round(times[min(len(times) - 1, int(p * len(times)))], 1) if times else None

    return {
        "requests": len(times),
        "failures": sum(1 for r in rows if r[2]),
        "rps": round(len(times) / seconds, 1) if seconds > 0 else None,
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": round(times[-1], 1) if times else None,
    }


@events.quitting.add_listener
def _write_pages(environment: Any, **kwargs: Any) -> None:
    """The pages alone (sign-in excluded): over the whole run, and in the steady state once
    every user has signed in (a sign-in is a deliberately slow password hash)."""
    path = os.environ.get("BENCH_LOAD_PAGES")
    if not path or not PAGE_TIMES:
        return
    start, end = PAGE_TIMES[0][0], PAGE_TIMES[-1][0]
    steady_from = max(SIGNED_IN) if SIGNED_IN else start
    steady = [r for r in PAGE_TIMES if r[0] > steady_from]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "all": _summary(PAGE_TIMES, end - start),
                "steady": _summary(steady, end - steady_from),
                "steady_from_s": round(steady_from - start, 1),
                "sign_ins": len(SIGNED_IN),
            },
            handle,
        )


class _SignedIn(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    accounts_key = ""

    def on_start(self) -> None:
        self.account = random.choice(CONFIG[self.accounts_key])
        page = self.client.get("/accounts/login/", name="sign-in (form)")
        match = TOKEN.search(page.text)
        with self.client.post(
            "/accounts/login/",
            data={
                "username": self.account["username"],
                "password": CONFIG["password"],
                "csrfmiddlewaretoken": match.group(1) if match else "",
            },
            headers={"Referer": f"{self.host}/accounts/login/"},
            allow_redirects=False,
            name="sign-in (post)",
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"sign-in refused: {response.status_code}")


class Instructor(_SignedIn):
    weight = 5
    accounts_key = "instructors"

    @task(3)
    def inbox(self) -> None:
        self.client.get("/tasks/", name="/tasks/ (instructor)")

    @task(3)
    def application(self) -> None:
        app = random.choice(CONFIG["staff_applications"])
        self.client.get(f"/dossiers/{app}/instruction/", name="/dossiers/<id>/instruction/")

    @task(1)
    def applications(self) -> None:
        self.client.get("/dossiers/", name="/dossiers/")

    @task(1)
    def search(self) -> None:
        q = random.choice(CONFIG["staff_searches"])
        self.client.get("/dossiers/", params={"q": q}, name="/dossiers/?q=")

    @task(1)
    def api_applications(self) -> None:
        self.client.get("/api/v1/applications/", name="/api/v1/applications/")

    @task(1)
    def api_submitted(self) -> None:
        self.client.get("/api/v1/applications/?state=submitted", name="/api/v1/applications/?state=submitted")

    @task(1)
    def api_tasks(self) -> None:
        self.client.get("/api/v1/tasks/", name="/api/v1/tasks/")


class Embassy(_SignedIn):
    weight = 1
    accounts_key = "embassies"

    @task(3)
    def inbox(self) -> None:
        self.client.get("/tasks/", name="/tasks/ (embassy)")

    @task(1)
    def api_applications(self) -> None:
        self.client.get("/api/v1/applications/", name="/api/v1/applications/ (embassy)")


class Applicant(_SignedIn):
    weight = 4
    accounts_key = "applicants"

    @task(3)
    def home(self) -> None:
        self.client.get("/", name="/ (applicant home)")

    @task(2)
    def application(self) -> None:
        app = random.choice(self.account["applications"])
        self.client.get(f"/mes-dossiers/{app}/", name="/mes-dossiers/<id>/")

    @task(1)
    def api_applications(self) -> None:
        self.client.get("/api/v1/applications/", name="/api/v1/applications/ (applicant)")
