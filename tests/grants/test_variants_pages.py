"""The variants' pages: the partner government's inbox and validation form (French and
English), the committee's buttons after a refusal, a turnkey programme's members."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from grants import services
from grants.models import Application, AttachmentKind, OpinionRequest
from tests.factories import PDF_BYTES, World
from tests.grants.test_variants_joint_fund import JointWorld
from tests.grants.test_variants_turnkey import MEMBERS, TurnkeyWorld

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> JointWorld:
    return JointWorld()


def test_the_partner_finds_its_project_to_validate_in_its_inbox_and_validates_it(world: JointWorld, client) -> None:
    app = world.after_embassies()
    request = world.partner_request(app)
    client.force_login(world.partner_sn)
    inbox = client.get("/tasks/").content.decode()
    assert f"/avis/{request.pk}/" in inbox and app.reference in inbox
    listing = client.get("/avis/").content.decode()
    assert "Projets à valider" in listing and "Valider le projet" in listing
    page = client.get(f"/avis/{request.pk}/").content.decode()
    assert "Validation du gouvernement partenaire : Sénégal" in page
    assert "Enregistrer la validation" in page and "Un avis défavorable empêche de le retenir" in page
    assert "Validation du projet" in page  # the verdict field in the partner's words
    refused = client.post(f"/avis/{request.pk}/", {"verdict": "unfavorable", "comment": ""})
    assert refused.status_code == 400  # a reason is required for an unfavourable verdict
    done = client.post(f"/avis/{request.pk}/", {"verdict": "favorable", "comment": ""})
    assert done.status_code == 302
    request.refresh_from_db()
    assert (request.state, request.verdict) == (OpinionRequest.State.GIVEN, "favorable")
    assert Application.objects.get(pk=app.pk).state == Application.State.UNDER_REVIEW


def test_the_partners_pages_in_english(world: JointWorld, client) -> None:
    app = world.after_embassies()
    request = world.partner_request(app)
    client.force_login(world.partner_sn)
    client.cookies["django_language"] = "en"
    listing = client.get("/avis/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Projects to validate" in listing and "Validate the project" in listing
    page = client.get(f"/avis/{request.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Partner government&#x27;s validation: Senegal" in page or "Partner government's validation: Senegal" in page
    assert "Record the validation" in page


def test_another_countrys_partner_gets_404(world: JointWorld, client) -> None:
    app = world.after_embassies()
    request = world.partner_request(app)
    client.force_login(world.partner_ma)
    assert client.get(f"/avis/{request.pk}/").status_code == 404
    assert client.post(f"/avis/{request.pk}/", {"verdict": "favorable"}).status_code == 404
    assert client.get(f"/dossiers/{app.pk}/instruction/").status_code == 404
    client.force_login(world.partner_sn)
    assert client.get(f"/dossiers/{app.pk}/instruction/").status_code == 200


def test_the_committee_sees_why_approve_is_unavailable_after_a_refusal(world: JointWorld, client) -> None:
    app = world.after_embassies()
    request = world.partner_request(app)
    services.opinion_give(opinion_id=request.pk, user=world.partner_sn, verdict="unfavorable", comment="Non.")
    app = world.to_committee(Application.objects.get(pk=app.pk))
    client.force_login(world.secretary)
    page = client.get(f"/dossiers/{app.pk}/instruction/").content.decode()
    assert "Le gouvernement partenaire (Sénégal) a rendu un avis défavorable" in page
    response = client.post(
        f"/dossiers/{app.pk}/instruction/actions/approve/", {"approve-amount": "25000", "approve-partner_amount": "0"}
    )
    assert response.status_code == 409
    assert Application.objects.get(pk=app.pk).state == Application.State.IN_COMMITTEE


def test_the_applicant_adds_and_removes_members_and_attaches_their_resolutions(client) -> None:
    world = TurnkeyWorld()
    app = world.draft(world.carrier)
    client.force_login(world.carrier)
    url = f"/mes-dossiers/{app.pk}/membres/"
    assert "Aucune collectivité membre" in client.get(url).content.decode()
    for member in MEMBERS:
        response = client.post(
            url,
            {
                "action": "add",
                "member-name": member["name"],
                "member-siren": member["siren"],
                "member-region": "84",
                "member-contribution": "3 000,00",
            },
        )
        assert response.status_code == 302, response.content.decode()[:500]
    bad = client.post(url, {"action": "add", "member-name": "X", "member-siren": "12"})
    assert bad.status_code == 400 and "le SIREN compte 9 chiffres" in bad.content.decode()
    valence = app.members.get(siren=MEMBERS[1]["siren"])
    upload = SimpleUploadedFile("deliberation.pdf", PDF_BYTES, content_type="application/pdf")
    assert client.post(url, {"action": "resolution", "member": valence.pk, "file": upload}).status_code == 302
    assert app.attachments.get(kind=AttachmentKind.COUNCIL_RESOLUTION).member == valence
    page = client.get(url).content.decode()
    assert "deliberation.pdf" in page and page.count("Manquante") == 2
    assert client.post(url, {"action": "remove", "siren": MEMBERS[2]["siren"]}).status_code == 302
    assert app.members.count() == 2
    # The staff see them on the application page once submitted (here: not yet visible).
    client.force_login(world.applicant2)
    assert client.get(url).status_code == 404


def test_the_members_page_exists_only_for_a_turnkey_call(client) -> None:
    world = World()
    app = world.draft()
    client.force_login(world.applicant)
    assert client.get(f"/mes-dossiers/{app.pk}/membres/").status_code == 404


def test_the_staff_application_page_lists_the_members_and_their_resolutions(client) -> None:
    world = TurnkeyWorld()
    app = world.programme(MEMBERS)
    world.fire(app, "submit", world.carrier)
    client.force_login(world.instructor)
    page = client.get(f"/dossiers/{app.pk}/instruction/").content.decode()
    assert "Collectivités membres du programme" in page
    assert all(m["name"].replace("'", "&#x27;") in page for m in MEMBERS)
    assert "deliberation-213801855.pdf" in page


def test_the_committee_enters_the_partners_co_financing_on_the_agenda(world: JointWorld, client) -> None:
    app = world.after_embassies()
    services.opinion_give(opinion_id=world.partner_request(app).pk, user=world.partner_sn, verdict="favorable")
    app = world.to_committee(Application.objects.get(pk=app.pk))
    client.force_login(world.secretary)
    url = f"/comites/{world.session.pk}/"
    page = client.get(url).content.decode()
    assert "Cofinancement du gouvernement partenaire (€)" in page
    prefix = str(app.pk)
    missing = client.post(f"{url}decisions/", {f"{prefix}-outcome": "approve", f"{prefix}-amount": "25 000,00"})
    assert missing.status_code == 400
    assert "Indiquez le cofinancement du gouvernement partenaire" in missing.content.decode()
    done = client.post(
        f"{url}decisions/",
        {f"{prefix}-outcome": "approve", f"{prefix}-amount": "25 000,00", f"{prefix}-partner_amount": "12 500,00"},
    )
    assert done.status_code == 302
    decision = Application.objects.get(pk=app.pk).decision
    assert (decision.amount, decision.partner_amount) == (25000, 12500)


def test_the_applicants_check_page_names_the_missing_members_and_resolutions(client) -> None:
    world = TurnkeyWorld()
    app = world.programme(MEMBERS[:2], resolutions=False)
    client.force_login(world.carrier)
    page = client.get(f"/mes-dossiers/{app.pk}/verification/").content.decode().replace("&#x27;", "'")
    assert "Le programme compte 2 collectivité(s) membre(s) ; l'appel en exige au moins 3." in page
    assert "Délibération manquante pour la collectivité membre : Ville de Grenoble." in page
    assert f"/mes-dossiers/{app.pk}/membres/" in page  # the side menu leads to the members' page
