"""A turnkey programme's member French authorities (grants.variants TURNKEY), written
with the application's other fields (grants.writes.drafts, the engine's ``update_draft``):
the same editable states, the same 400 with every field's reason.

``members`` is the whole list ``[{name, siren, region, contribution}]`` and replaces the
previous one; a member kept (same SIREN) keeps its row, so its council resolution stays
attached; a member removed takes its resolution with it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from grants.machines.payload import parse_amount
from grants.models import Application, Call, Organisation, Region
from grants.variant_models import ApplicationMember
from grants.variants import variant_for
from workflows.engine import Invalid

MAX_MEMBERS = 100


def clean(raw: Any, call: Call) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """(the cleaned members, the errors by field): every error at once."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not variant_for(call).members:
        add("members", _("Cet appel n'est pas un programme clé en main : il ne liste pas de collectivités membres."))
        return [], errors
    if not isinstance(raw, list):
        add("members", _("Indiquez une liste de collectivités membres {name, siren, region, contribution}."))
        return [], errors
    if len(raw) > MAX_MEMBERS:
        add("members", _("Un programme compte au plus %(n)s collectivités membres.") % {"n": MAX_MEMBERS})
        return [], errors
    regions = {r.code: r for r in Region.objects.all()}
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = _("Membre n° %(n)s") % {"n": index + 1}
        field = f"members.{index}"
        if not isinstance(item, dict):
            add(field, f"{where} : " + _("format invalide."))
            continue
        name = str(item.get("name") or "").strip()[:200]
        siren = "".join(str(item.get("siren") or "").split())
        ok = True
        if not name:
            add(f"{field}.name", f"{where} : " + _("le nom est obligatoire."))
            ok = False
        if not (len(siren) == 9 and siren.isdigit()):
            add(f"{field}.siren", f"{where} : " + _("le SIREN compte 9 chiffres."))
            ok = False
        elif siren in seen:
            add(f"{field}.siren", f"{where} : " + _("cette collectivité figure déjà dans la liste."))
            ok = False
        region_code = str(item.get("region") or "").strip()
        region = regions.get(region_code) if region_code else None
        if region_code and region is None:
            add(f"{field}.region", f"{where} : " + _("région inconnue (code INSEE, par ex. 84)."))
            ok = False
        contribution = Decimal("0.00")
        if item.get("contribution") not in (None, ""):
            try:
                contribution = parse_amount(item.get("contribution"), "contribution")
            except Invalid as exc:
                add(f"{field}.contribution", f"{where} : " + exc.errors["contribution"][0])
                ok = False
        if ok:
            seen.add(siren)
            rows.append({"name": name, "siren": siren, "region": region, "contribution": contribution})
    return rows, errors


def apply(application: Application, rows: list[dict[str, Any]]) -> None:
    """Replace the members by ``rows`` (a kept SIREN keeps its row and its resolution)."""
    existing = {m.siren: m for m in application.members.all()}
    organisations = {
        o.siren: o
        for o in Organisation.objects.filter(siren__in=[r["siren"] for r in rows], kind=Organisation.Kind.FRENCH)
    }
    wanted = {r["siren"] for r in rows}
    for siren, member in existing.items():
        if siren not in wanted:
            member.delete()  # its resolution goes with it (Attachment.member CASCADE)
    for position, row in enumerate(rows):
        organisation = organisations.get(row["siren"])
        member = existing.get(row["siren"]) or ApplicationMember(application=application, siren=row["siren"])
        member.name = row["name"]
        member.region = row["region"] or (organisation.region if organisation else None)
        member.contribution = row["contribution"]
        member.organisation = organisation
        member.position = position
        member.save()


def as_payload(application: Application) -> list[dict[str, Any]]:
    """The current members as the ``members`` payload (the web form adds or removes one)."""
    return [
        {"name": m.name, "siren": m.siren, "region": m.region_id or "", "contribution": f"{m.contribution:f}"}
        for m in application.members.all()
    ]
