"""The call variants through the API: a joint fund's partner government validates by
`/opinions/`, `approve` takes `partner_amount` and answers 409 with the reason after an
unfavourable verdict; a turnkey programme's `members` on the application, writable in
draft, and each member's council resolution."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from grants.models import Application, Decision, OpinionRequest
from tests.api.helpers import body, english, pdf, url
from tests.grants.test_variants_joint_fund import JointWorld
from tests.grants.test_variants_turnkey import MEMBERS, TurnkeyWorld

pytestmark = pytest.mark.django_db
S = Application.State


def _partner_given(world: JointWorld, api: Callable[..., APIClient], verdict: str) -> Application:
    app = world.after_embassies()
    (item,) = body(api(world.partner_sn).get(url("opinions/")), 200)["results"]
    assert (item["authority"], item["country"], item["state"]) == ("partner", "SN", "requested")
    assert body(api(world.partner_ma).get(url("opinions/")), 200)["results"] == []
    # Another country's partner government does not see it: 404, never 403.
    body(api(world.partner_ma).post(url(f"opinions/{item['id']}/give/"), {"verdict": "favorable"}, format="json"), 404)
    body(api(world.partner_ma).get(url(f"applications/{app.pk}/")), 404)
    given = body(
        api(world.partner_sn).post(
            url(f"opinions/{item['id']}/give/"), {"verdict": verdict, "comment": "Avis du ministère."}, format="json"
        ),
        200,
    )
    assert (given["state"], given["verdict"]) == ("given", verdict)
    return world.to_committee(Application.objects.get(pk=app.pk))


def test_a_favourable_validation_then_an_approval_with_the_partners_amount(api: Callable[..., APIClient]) -> None:
    world = JointWorld()
    app = _partner_given(world, api, "favorable")
    detail = body(api(world.secretary).get(url(f"applications/{app.pk}/")), 200)
    assert "approve" in detail["available_transitions"]
    missing = body(
        api(world.secretary).post(
            url(f"applications/{app.pk}/transitions/approve/"), {"amount": "25000.00"}, format="json"
        ),
        400,
    )
    assert list(missing["errors"]) == ["partner_amount"]
    body(
        api(world.secretary).post(
            url(f"applications/{app.pk}/transitions/approve/"),
            {"amount": "25000.00", "partner_amount": "15000.00"},
            format="json",
        ),
        200,
    )
    decision = Decision.objects.get(application=app)
    got = body(api(world.signatory).get(url(f"decisions/{decision.pk}/")), 200)
    assert (got["amount"], got["partner_amount"]) == ("25000.00", "15000.00")


def test_an_unfavourable_validation_answers_409_with_the_reason_in_the_callers_language(
    api: Callable[..., APIClient],
) -> None:
    world = JointWorld()
    app = _partner_given(world, api, "unfavorable")
    detail = body(api(world.secretary).get(url(f"applications/{app.pk}/")), 200)
    assert "approve" not in detail["available_transitions"]
    (blocked,) = [b for b in detail["blocked_transitions"] if b["name"] == "approve"]
    assert any("avis défavorable" in r for r in blocked["unmet"])
    refused = body(
        api(world.secretary, language="en").post(
            url(f"applications/{app.pk}/transitions/approve/"),
            {"amount": "25000.00", "partner_amount": "0"},
            format="json",
        ),
        409,
    )
    reason = english(
        "Le gouvernement partenaire (%(country)s) a rendu un avis défavorable : le projet ne peut pas être retenu."
    ) % {"country": "Senegal"}
    assert reason in refused["unmet"]
    assert Application.objects.get(pk=app.pk).state == S.IN_COMMITTEE


def test_a_turnkey_programmes_members_are_written_in_draft_and_read_on_the_detail(
    api: Callable[..., APIClient],
) -> None:
    world = TurnkeyWorld()
    app = world.draft(world.carrier)
    client = api(world.carrier)
    bad = body(
        client.patch(url(f"applications/{app.pk}/"), {"members": [{"name": "X", "siren": "1"}]}, format="json"), 400
    )
    assert "members.0.siren" in bad["errors"]
    # The members' 10 000 € replace part of the lead's own cash: the budget still balances.
    funding = {"own_cash": "5000.00", "own_in_kind": "5000.00"}
    data = {"members": MEMBERS, "budget": {"funding": funding}}
    detail = body(client.patch(url(f"applications/{app.pk}/"), data, format="json"), 200)
    assert [m["siren"] for m in detail["members"]] == [m["siren"] for m in MEMBERS]
    assert detail["members"][0]["contribution"] == "4000.00" and detail["members"][0]["resolution"] is None
    blocked = {b["name"]: b["unmet"] for b in detail["blocked_transitions"]}
    assert "Délibération manquante pour la collectivité membre : Ville de Grenoble." in blocked["submit"]
    for member in detail["members"]:
        body(
            client.post(
                url(f"applications/{app.pk}/attachments/"),
                {"kind": "council_resolution", "member": member["id"], "file": pdf()},
                format="multipart",
            ),
            201,
        )
    detail = body(client.get(url(f"applications/{app.pk}/")), 200)
    assert all(m["resolution"] for m in detail["members"])
    assert "submit" in detail["available_transitions"]
    body(client.post(url(f"applications/{app.pk}/transitions/submit/"), {}, format="json"), 200)
    # Submitted: the members are frozen like the rest (409).
    body(client.patch(url(f"applications/{app.pk}/"), {"members": MEMBERS[:1]}, format="json"), 409)
    # Another application's member is unknown here.
    other = world.draft(world.carrier)
    unknown = body(
        client.post(
            url(f"applications/{other.pk}/attachments/"),
            {"kind": "council_resolution", "member": detail["members"][0]["id"], "file": pdf()},
            format="multipart",
        ),
        400,
    )
    assert list(unknown["errors"]) == ["member"]
    assert OpinionRequest.objects.count() == 0
