"""Every message renders in French and in English (subject, plain text, HTML), with the
facts formatted for the reader and user text escaped in HTML."""

from __future__ import annotations

from typing import Any

import pytest

from notifications import rendering
from notifications.events import MESSAGES, ROUTES, message_for

TITLE = 'Eau potable <script>alert("x")</script> & assainissement'

SAMPLE: dict[str, Any] = {
    "application": "6f1c1e34-4b5a-4c57-9d6e-1f0f1b2c3d4e",
    "reference": "AAP-2026-GEN-00012",
    "title": TITLE,
    "call": "AAP-2026-GEN",
    "organisation": "Ville de Lyon",
    "submitted_at": "2026-03-02T09:15:00+00:00",
    "due_at": "2026-03-29T22:30:00+00:00",
    "due_date": "2026-04-15",
    "closes_at": "2026-04-30T10:00:00+00:00",
    "session_date": "2026-06-12",
    "message": "Joindre la délibération signée.\nEt le budget détaillé.",
    "reason": "Le projet ne relève pas de la coopération décentralisée.",
    "authority": "embassy",
    "country_fr": "Sénégal",
    "country_en": "Senegal",
    "region": "",
    "given": 1,
    "expired": 1,
    "reviewer": "Claire Dubois",
    "outcome": "approved",
    "approved": "1",
    "amount": "25000.00",
    "decision_id": 7,
    "document_id": 3,
    "document": "1",
    "verification_code": "7KQ2-M9XD-4TPA",
    "commitment_number": "EJ-2026-001",
    "task_kind": "give_opinion",
    "queue_role": "embassy",
    "step": -2,
    "escalated": "1",
    # The grant's life after the commitment: a payment, a report, an amendment.
    "number": 2,
    "paid_on": "2026-05-04",
    "tranche": "1",
    "interim": "1",
    "explanation": "Dépenses réalisées 33 000,00 € × 70 % = 23 100,00 € ; déjà versé 22 500,00 € ; solde 600,00 €.",
}


@pytest.fixture(autouse=True)
def _strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """A placeholder the sample does not fill is a bug in the message, not a dash."""

    def missing(self: Any, key: str) -> str:
        raise KeyError(key)

    monkeypatch.setattr(rendering._Values, "__missing__", missing)


def test_every_routed_message_exists() -> None:
    for routes in ROUTES.values():
        for route in routes:
            for outcome in ("approved", "rejected"):
                assert message_for(route, {"outcome": outcome}) in MESSAGES


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_message_renders_in_french_and_in_english(code: str) -> None:
    fr = rendering.render(code, SAMPLE, language="fr", url="https://example.org/notifications/1/")
    en = rendering.render(code, SAMPLE, language="en", url="https://example.org/notifications/1/")
    for rendered in (fr, en):
        assert rendered.subject and "\n" not in rendered.subject and "%(" not in rendered.subject
        assert "%(" not in rendered.text and "%(" not in rendered.html
        assert "https://example.org/notifications/1/" in rendered.text
        assert f'lang="{rendered.language}"' in rendered.html
    assert fr.text.startswith("Bonjour,") and en.text.startswith("Hello,")
    assert fr.subject != en.subject
    for fr_paragraph, en_paragraph in zip(fr.paragraphs, en.paragraphs, strict=True):
        if not fr_paragraph.quote:  # user text is shown as written
            assert fr_paragraph.text != en_paragraph.text, fr_paragraph.text


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_user_text_is_escaped_in_html_and_kept_in_plain_text(code: str) -> None:
    rendered = rendering.render(code, SAMPLE, language="fr")
    assert "<script>" not in rendered.html
    if TITLE in rendered.text:
        assert "&lt;script&gt;" in rendered.html


def test_dates_are_shown_in_paris_time_in_the_reader_s_language() -> None:
    # 22:30 UTC on 29 March 2026 is 00:30 on the 30th in Paris (summer time began that night).
    fr = rendering.render("opinion_requested", SAMPLE, language="fr")
    en = rendering.render("opinion_requested", SAMPLE, language="en")
    assert "30 mars 2026 00:30" in fr.text
    assert "March 30, 2026" in en.text
    assert "(Sénégal)" in fr.subject and "(Senegal)" in en.subject


def test_amounts_are_decimal_euros_in_each_language() -> None:
    fr = rendering.render("decision_delivered_approved", SAMPLE, language="fr")
    en = rendering.render("decision_delivered_approved", SAMPLE, language="en")
    assert "25\u202f000,00\u00a0€" in fr.text
    assert "€25,000.00" in en.text


def test_a_completion_request_quotes_the_instructor_s_message() -> None:
    rendered = rendering.render("completion_requested", SAMPLE, language="fr")
    assert "Joindre la délibération signée." in rendered.text
    assert "<blockquote" in rendered.html
    assert "15 avril 2026" in rendered.text


def test_the_digest_lists_every_item_in_the_reader_s_language() -> None:
    items = [(code, SAMPLE, f"https://example.org/notifications/{i}/") for i, code in enumerate(sorted(MESSAGES))]
    fr = rendering.render_digest(items, language="fr")
    en = rendering.render_digest(items, language="en")
    assert str(len(MESSAGES)) in fr.subject and str(len(MESSAGES)) in en.subject
    for i in range(len(MESSAGES)):
        assert f"https://example.org/notifications/{i}/" in fr.text
    assert "<script>" not in fr.html
    assert fr.subject != en.subject


def test_a_payment_notice_formats_its_amount_and_date_for_the_reader() -> None:
    fr = rendering.render("payment_paid", SAMPLE, language="fr")
    en = rendering.render("payment_paid", SAMPLE, language="en")
    assert "Un versement de 25\u202f000,00\u00a0€ a été effectué le 4 mai 2026" in fr.text
    assert "A payment of €25,000.00 was made on May 4, 2026" in en.text
