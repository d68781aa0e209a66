"""Drive one application through its whole lifecycle against a running server, through
the HTTP API only, with the demo accounts (``manage.py seed_demo``; password ``demo``).

    .venv/bin/python -m api.demo_lifecycle --base-url http://127.0.0.1:8000

Draft → attachments → submit → reviewer assigned → declared eligible → the embassy's
opinion (which closes the opinion phase) → declaration → review → consensus → committee session → scheduled →
approved → signed → delivered (by the background worker: the letter is rendered, then
sent) → letter downloaded → commitment recorded. Each step is printed; the exit status is
0 when the decision ends ``recorded``. Standard library only (urllib).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

# A minimal one-page PDF: the attachments' content (sniffed by the server).
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


class ApiError(Exception):
    def __init__(self, status: int, body: Any, what: str) -> None:
        super().__init__(f"{what} → {status}: {json.dumps(body, ensure_ascii=False)}")
        self.status = status
        self.body = body


class Client:
    def __init__(self, base_url: str, username: str, password: str, language: str) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.username = username
        self.language = language
        self.token = ""
        for _attempt in range(3):
            try:
                self.token = self.call("POST", "/auth/token/", {"username": username, "password": password})["token"]
                break
            except ApiError as exc:
                if exc.status != 429:
                    raise
                wait = int(exc.body.get("retry_after", 10)) if isinstance(exc.body, dict) else 10
                print(f"  (throttled: waiting {wait} s)")
                time.sleep(wait + 1)
        if not self.token:
            raise SystemExit(f"could not sign in as {username}")

    def _send(self, method: str, path: str, data: bytes | None, content_type: str | None) -> tuple[int, bytes, str]:
        url = path if path.startswith("http") else self.base + path
        if not url.startswith(("http://", "https://")):
            raise SystemExit(f"refusing a non-HTTP URL: {url}")
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (scheme checked above)
        request.add_header("Accept-Language", self.language)
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return response.status, response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers.get("Content-Type", "")

    def call(self, method: str, path: str, payload: Any = None, *, expect: tuple[int, ...] = (200, 201)) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        status, raw, _type = self._send(method, path, data, "application/json" if data is not None else None)
        body = json.loads(raw) if raw else None
        if status not in expect:
            raise ApiError(status, body, f"{self.username}: {method} {path}")
        return body

    def upload(self, path: str, fields: dict[str, str], filename: str, content: bytes) -> Any:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/pdf\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        status, raw, _type = self._send("POST", path, b"".join(parts), f"multipart/form-data; boundary={boundary}")
        body = json.loads(raw) if raw else None
        if status != 201:
            raise ApiError(status, body, f"{self.username}: POST {path}")
        return body

    def download(self, path: str) -> tuple[int, bytes, str]:
        return self._send("GET", path, None, None)


def step(who: str, what: str, result: str = "") -> None:
    print(f"[{who:>10}] {what}" + (f"  →  {result}" if result else ""))


def run(base_url: str, password: str, call_code: str, language: str, wait_seconds: int) -> int:
    def sign_in(username: str) -> Client:
        client = Client(base_url, username, password, language)
        step(username, "POST /auth/token/", "token")
        return client

    applicant = sign_in("applicant")
    call = applicant.call("GET", f"/calls/{call_code}/")
    step("applicant", f"GET /calls/{call_code}/", f"{call['state']}, accepting={call['accepting']}")
    country = "SN"
    draft = {
        "call": call_code,
        "title": f"Démonstration API — assainissement à Saint-Louis ({dt.datetime.now():%H:%M:%S})",
        "summary": "Collecte et valorisation des déchets ménagers, formation des services techniques.",
        "countries": [country],
        "partners": [{"name": "Commune de Saint-Louis", "country": country}],
        "start_date": f"{dt.date.today().year + 1}-01-01",
        "duration_months": 24,
        "budget": {
            "lines": [
                {"year": 1, "category": "staff", "label": "Expertise et coordination", "amount": "50000.00"},
                {"year": 2, "category": "equipment", "label": "Équipements de collecte", "amount": "50000.00"},
            ],
            "funding": {
                "own_cash": "15000.00",
                "own_in_kind": "5000.00",
                "partner": "10000.00",
                "other": "45000.00",
                "requested": "25000.00",
            },
        },
    }
    app = applicant.call("POST", "/applications/", draft)
    app_id = app["id"]
    step("applicant", "POST /applications/", f"{app['state']} {app_id}")
    for kind in call["required_attachments"]:
        attachment = applicant.upload(f"/applications/{app_id}/attachments/", {"kind": kind}, f"{kind}.pdf", PDF)
        step("applicant", f"POST /applications/{{id}}/attachments/ ({kind})", attachment["content_type"])
    app = applicant.call("POST", f"/applications/{app_id}/transitions/submit/", {})
    reference = app["reference"]
    step("applicant", "POST …/transitions/submit/", f"{app['state']} {reference}")

    instructor = sign_in("instructor")
    tasks = instructor.call("GET", "/tasks/?kind=check_eligibility&page_size=100")["results"]
    task = next((t for t in tasks if t["application"] == app_id), None)
    if task is not None:
        task = instructor.call("POST", f"/tasks/{task['id']}/claim/")
        step("instructor", "POST /tasks/{id}/claim/", f"{task['kind']} taken by {task['assignee']}")
    review = instructor.call("POST", f"/applications/{app_id}/reviewers/", {"reviewer": "reviewer1"})
    step("instructor", "POST …/reviewers/ reviewer1", review["state"])
    app = instructor.call("POST", f"/applications/{app_id}/transitions/declare_eligible/", {})
    step("instructor", "POST …/transitions/declare_eligible/", app["state"])

    embassy = sign_in("embassy-sn")
    opinions = embassy.call("GET", f"/opinions/?state=requested&application={app_id}")["results"]
    for opinion in opinions:
        given = embassy.call(
            "POST", f"/opinions/{opinion['id']}/give/", {"verdict": "favorable", "comment": "Partenaires fiables."}
        )
        step("embassy-sn", f"POST /opinions/{opinion['id']}/give/", f"{given['state']} {given['verdict']}")
    app = instructor.call("GET", f"/applications/{app_id}/")
    if app["state"] == "awaiting_opinions":
        app = instructor.call(
            "POST", f"/applications/{app_id}/transitions/close_opinions/", {"comment": "Démonstration : clôture."}
        )
    step("instructor", "GET /applications/{id}/", app["state"])

    reviewer = sign_in("reviewer1")
    mine = reviewer.call("GET", f"/reviews/?application={app_id}")["results"][0]
    scores = {criterion["code"]: 4 for criterion in mine["criteria"]}
    declared = reviewer.call("POST", f"/reviews/{mine['id']}/declare/", {"conflict": False})
    step("reviewer1", f"POST /reviews/{mine['id']}/declare/ no conflict", declared["declared_at"])
    done = reviewer.call(
        "POST", f"/reviews/{mine['id']}/submit/", {"scores": scores, "recommendation": "yes", "comment": "Solide."}
    )
    step("reviewer1", f"POST /reviews/{mine['id']}/submit/", done["state"])

    consensus = instructor.call("POST", f"/applications/{app_id}/consensus/", {"comment": "Projet solide."})
    step("instructor", "POST …/consensus/", f"weighted score {consensus['weighted_score']}")

    secretary = sign_in("secretary")
    day = (dt.date.today() + dt.timedelta(days=14)).isoformat()
    session = secretary.call("POST", "/sessions/", {"call": call_code, "date": day, "title": "Comité (démonstration)"})
    step("secretary", "POST /sessions/", f"session {session['id']} on {session['date']}")
    app = secretary.call("POST", f"/applications/{app_id}/transitions/schedule/", {"session": session["id"]})
    step("secretary", "POST …/transitions/schedule/", app["state"])
    app = secretary.call("POST", f"/applications/{app_id}/transitions/approve/", {"amount": "25000.00"})
    decision = app["decision"]
    step("secretary", "POST …/transitions/approve/ 25000.00", f"{app['state']}, decision {decision['id']}")

    signatory = sign_in("signatory")
    signed = signatory.call("POST", f"/decisions/{decision['id']}/sign/")
    step("signatory", f"POST /decisions/{decision['id']}/sign/", signed["state"])
    deadline = time.monotonic() + wait_seconds
    state = signed["state"]
    while state == "signed" and time.monotonic() < deadline:
        time.sleep(1)
        state = signatory.call("GET", f"/decisions/{decision['id']}/")["state"]
    step("worker", "letter rendered and delivered", state)
    if state != "delivered":
        print(
            f"The decision is still '{state}' after {wait_seconds} s: is the Celery worker running "
            "(`make run` starts it)?",
            file=sys.stderr,
        )
        return 1
    status, pdf, content_type = applicant.download(f"/decisions/{decision['id']}/pdf/")
    step("applicant", "GET /decisions/{id}/pdf/", f"{status} {content_type} {len(pdf)} bytes")

    finance = sign_in("finance")
    number = f"EJ-{dt.date.today():%Y}-{uuid.uuid4().hex[:6].upper()}"
    recorded = finance.call("POST", f"/decisions/{decision['id']}/record/", {"commitment_number": number})
    step("finance", f"POST /decisions/{decision['id']}/record/ {number}", recorded["state"])

    app = applicant.call("GET", f"/applications/{app_id}/")
    step(
        "applicant", f"GET /applications/{{id}}/ ({reference})", f"{app['state']}, decision {app['decision']['state']}"
    )
    print("\nHistory as the applicant sees it:")
    for entry in app["history"]:
        print(f"  {entry['at'][:19]}  {entry['subject']:<11} {entry['transition']:<18} {entry['by'] or 'system'}")
    return 0 if app["decision"]["state"] == "recorded" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--password", default="demo", help="the demo accounts' password (seed_demo --password)")
    parser.add_argument("--call", default="DEMO-2026")
    parser.add_argument("--language", default="fr", choices=["fr", "en"])
    parser.add_argument("--wait", type=int, default=120, help="seconds to wait for the letter's delivery")
    args = parser.parse_args(argv)
    try:
        return run(args.base_url, args.password, args.call, args.language, args.wait)
    except ApiError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"FAILED: cannot reach {args.base_url}: {exc.reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
