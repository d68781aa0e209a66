"""Demo data of the call editor (issue 15): a draft call for 2027, with its own
questions, ready to be set up, previewed and published by ``instructor`` or ``admin``.
Idempotent; called from ``grants.demo.seed``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from grants.models import Call, Country
from grants.questions import CallQuestion

EDITOR_CALL = "AAP-2027-GEN"

QUESTIONS = [
    {
        "code": "public",
        "label": "Public bénéficiaire principal",
        "label_en": "Main beneficiaries",
        "help": "Qui bénéficie d'abord du projet ?",
        "help_en": "Who benefits first from the project?",
        "type": CallQuestion.Type.CHOICE,
        "choices": [
            {"value": "jeunes", "label": "Jeunes", "label_en": "Young people"},
            {"value": "femmes", "label": "Femmes", "label_en": "Women"},
            {"value": "elus", "label": "Élus et agents", "label_en": "Elected officials and staff"},
        ],
        "required": True,
    },
    {
        "code": "emplois",
        "label": "Emplois créés sur place",
        "label_en": "Local jobs created",
        "type": CallQuestion.Type.NUMBER,
        "min_value": Decimal("0"),
        "max_value": Decimal("500"),
    },
    {
        "code": "premier",
        "label": "Premier partenariat avec cette collectivité ?",
        "label_en": "First partnership with this authority?",
        "type": CallQuestion.Type.YES_NO,
    },
]


def seed() -> Call:
    now = timezone.now()
    call, created = Call.objects.get_or_create(
        code=EDITOR_CALL,
        defaults={
            "title": "Appel à projets généraliste 2027",
            "description": "Brouillon de l'appel 2027, à régler et publier dans l'éditeur d'appels.",
            "opens_at": now + dt.timedelta(days=60),
            "closes_at": now + dt.timedelta(days=150),
            "envelope": Decimal("2500000.00"),
            "min_reviews": 2,
        },
    )
    if created:
        call.eligible_countries.set(Country.objects.filter(iso2__in=["SN", "MA", "BF", "TN"]))
        for position, question in enumerate(QUESTIONS):
            CallQuestion.objects.create(call=call, position=position, **question)  # type: ignore[arg-type]
    return call
