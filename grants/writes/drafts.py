"""Writing an application's content while it is editable (draft or completion requested),
and its attachments. Shared by the API and the web forms: the one place that validates
an application's fields."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import filetype
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from grants import policy
from grants.models import (
    Application,
    ApplicationPartner,
    Attachment,
    AttachmentKind,
    BudgetLine,
    Call,
    Country,
    Organisation,
    Role,
)
from grants.services import parse_amount, parse_date
from workflows.engine import Conflict, Forbidden, Invalid, NotFound, append_log

FUNDING_FIELDS = {
    "own_cash": "own_cash",
    "own_in_kind": "own_in_kind",
    "partner": "partner_funding",
    "other": "other_funding",
    "requested": "requested_amount",
}
TEXT_FIELDS = {"title": 250, "summary": 10000, "objectives": 10000}

# Accepted content, sniffed from the bytes (never the name or the declared type).
ACCEPTED_MIME = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "application/vnd.oasis.opendocument.text": "ODT",
    "application/vnd.oasis.opendocument.spreadsheet": "ODS",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
}


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise Invalid(_("Données invalides."), errors=self.errors)


def applicant_organisation(user: Any, organisation_id: int | None = None) -> Organisation:
    s = policy.scopes(user)
    if Role.APPLICANT not in s.roles or not s.organisations:
        raise Forbidden(_("Seul un porteur de projet peut créer un dossier."))
    if organisation_id is not None:
        if organisation_id not in s.organisations:
            raise Invalid(errors={"organisation": [_("Vous ne représentez pas cette collectivité.")]})
        return Organisation.objects.get(pk=organisation_id)
    return Organisation.objects.get(pk=min(s.organisations))


def _clean(data: dict[str, Any], call: Call, *, partial: bool) -> dict[str, Any]:
    """Validate the writable fields present in ``data``; collect every error at once."""
    errors = _Errors()
    cleaned: dict[str, Any] = {}
    for name, max_length in TEXT_FIELDS.items():
        if name in data:
            value = data[name]
            if value is None:
                value = ""
            if not isinstance(value, str):
                errors.add(name, _("Ce champ doit être un texte."))
                continue
            value = value.strip()
            if name == "title" and not value:
                errors.add(name, _("Ce champ est obligatoire."))
            elif len(value) > max_length:
                errors.add(name, _("Ce texte dépasse %(max)s caractères.") % {"max": max_length})
            cleaned[name] = value
        elif name == "title" and not partial:
            errors.add(name, _("Ce champ est obligatoire."))
    for name in ("themes", "sdg_targets"):
        if name in data:
            value = data[name]
            if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
                errors.add(name, _("Indiquez une liste."))
            else:
                cleaned[name] = [str(v)[:100] for v in value][:50]
    if "gender_marker" in data:
        value = data["gender_marker"]
        if isinstance(value, bool) or value not in (0, 1, 2, "0", "1", "2"):
            errors.add("gender_marker", _("Le marqueur genre vaut 0, 1 ou 2."))
        else:
            cleaned["gender_marker"] = int(value)
    if "start_date" in data:
        if data["start_date"] in (None, ""):
            cleaned["start_date"] = None
        else:
            try:
                cleaned["start_date"] = parse_date(data["start_date"], "start_date")
            except Invalid as exc:
                errors.errors.update(exc.errors)
    if "duration_months" in data:
        value = data["duration_months"]
        if value in (None, ""):
            cleaned["duration_months"] = None
        elif isinstance(value, bool) or not str(value).isdigit() or not 1 <= int(value) <= 120:
            errors.add("duration_months", _("Indiquez une durée en mois (nombre entier de 1 à 120)."))
        else:
            cleaned["duration_months"] = int(str(value))
    if "countries" in data:
        codes = data["countries"]
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            errors.add("countries", _("Indiquez une liste de codes pays ISO à deux lettres."))
        else:
            wanted = sorted({c.strip().upper() for c in codes})
            found = {c.iso2: c for c in Country.objects.filter(iso2__in=wanted)}
            unknown = [c for c in wanted if c not in found]
            if unknown:
                errors.add("countries", _("Codes pays inconnus : %(list)s.") % {"list": ", ".join(unknown)})
            elif "FR" in found:
                errors.add("countries", _("Les pays du projet sont les pays des partenaires étrangers, pas la France."))
            else:
                cleaned["countries"] = [found[c] for c in wanted]
    if "partners" in data:
        partners = data["partners"]
        if not isinstance(partners, list):
            errors.add("partners", _("Indiquez une liste de partenaires {name, country}."))
        else:
            rows = []
            for index, item in enumerate(partners):
                if not isinstance(item, dict) or not str(item.get("name") or "").strip():
                    errors.add("partners", _("Partenaire n° %(n)s : le nom est obligatoire.") % {"n": index + 1})
                    continue
                country = Country.objects.filter(iso2=str(item.get("country") or "").upper()).first()
                if country is None:
                    errors.add("partners", _("Partenaire n° %(n)s : pays inconnu.") % {"n": index + 1})
                    continue
                rows.append((str(item["name"]).strip()[:200], country))
            cleaned["partners"] = rows
    if "budget" in data:
        raw = data["budget"]
        if not isinstance(raw, dict):
            errors.add("budget", _("Le budget est un objet {lines, funding}."))
        else:
            if "lines" in raw:
                lines = raw["lines"]
                if not isinstance(lines, list):
                    errors.add("budget.lines", _("Indiquez une liste de lignes budgétaires."))
                else:
                    parsed = []
                    categories = set(BudgetLine.Category.values)
                    for index, line in enumerate(lines):
                        where = _("Ligne %(n)s") % {"n": index + 1}
                        if not isinstance(line, dict):
                            errors.add("budget.lines", f"{where} : " + _("format invalide."))
                            continue
                        year = line.get("year")
                        if isinstance(year, bool) or not str(year).isdigit() or not 1 <= int(str(year)) <= 10:
                            errors.add("budget.lines", f"{where} : " + _("l'année du projet va de 1 à 10."))
                            continue
                        category = line.get("category")
                        if category not in categories:
                            errors.add(
                                "budget.lines",
                                f"{where} : "
                                + _("catégorie inconnue (%(list)s).") % {"list": ", ".join(sorted(categories))},
                            )
                            continue
                        label = str(line.get("label") or "").strip()
                        if not label:
                            errors.add("budget.lines", f"{where} : " + _("le libellé est obligatoire."))
                            continue
                        try:
                            amount = parse_amount(line.get("amount"), "amount")
                        except Invalid as exc:
                            errors.add("budget.lines", f"{where} : " + exc.errors["amount"][0])
                            continue
                        country = None
                        if line.get("country"):
                            country = Country.objects.filter(iso2=str(line["country"]).upper()).first()
                            if country is None:
                                errors.add("budget.lines", f"{where} : " + _("pays inconnu."))
                                continue
                        parsed.append((int(str(year)), category, label[:250], amount, country))
                    cleaned["lines"] = parsed
            if "funding" in raw:
                funding = raw["funding"]
                if not isinstance(funding, dict):
                    errors.add("budget.funding", _("Les financements sont un objet."))
                else:
                    for key, field in FUNDING_FIELDS.items():
                        if key in funding:
                            try:
                                cleaned[field] = parse_amount(funding[key], key)
                            except Invalid as exc:
                                errors.add(f"budget.funding.{key}", exc.errors[key][0])
    if "duration_months" in cleaned and cleaned["duration_months"] is not None:
        pass  # bounds are a submission rule (the call's setting), not a typing error
    errors.raise_if_any()
    return cleaned


def _apply(application: Application, cleaned: dict[str, Any]) -> None:
    simple = {k: v for k, v in cleaned.items() if k not in {"countries", "partners", "lines"}}
    for name, value in simple.items():
        setattr(application, name, value)
    application.save()
    if "countries" in cleaned:
        application.countries.set(cleaned["countries"])
    if "partners" in cleaned:
        application.partners.all().delete()
        ApplicationPartner.objects.bulk_create(
            ApplicationPartner(application=application, name=name, country=country, position=i)
            for i, (name, country) in enumerate(cleaned["partners"])
        )
    if "lines" in cleaned:
        application.budget_lines.all().delete()
        BudgetLine.objects.bulk_create(
            BudgetLine(application=application, year=y, category=c, label=label, amount=a, country=country)
            for (y, c, label, a, country) in cleaned["lines"]
        )


def application_create(*, user: Any, data: dict[str, Any]) -> Application:
    code = data.get("call")
    call = Call.objects.filter(code=code).first() if isinstance(code, str) else None
    if call is None:
        raise Invalid(errors={"call": [_("Appel à projets introuvable.")]})
    if call.state != Call.State.PUBLISHED:
        raise Invalid(errors={"call": [_("Cet appel à projets n'est pas publié.")]})
    organisation = applicant_organisation(user, data.get("organisation"))
    cleaned = _clean(data, call, partial=False)
    with transaction.atomic():
        application = Application(call=call, organisation=organisation, created_by=user, title=cleaned["title"])
        _apply(application, cleaned)
        append_log(
            subject=application,
            application=application,
            transition="create",
            source="",
            target=Application.State.DRAFT,
            user=user,
            role=Role.APPLICANT,
        )
    return application


def application_update(*, application_id: Any, user: Any, data: dict[str, Any]) -> Application:
    with transaction.atomic():
        application = (
            policy.visible_applications(user, Application.objects.select_for_update(of=("self",)))
            .select_related("call")
            .filter(pk=application_id)
            .first()
        )
        if application is None:
            raise NotFound(_("Introuvable."))
        if policy.role_for(user, (Role.APPLICANT,), application) is None:
            raise Forbidden(_("Seul le porteur du dossier peut le modifier."))
        if not application.is_editable:
            raise Conflict(
                _("Le dossier ne peut plus être modifié dans l'état « %(state)s ».")
                % {"state": application.get_state_display()}
            )
        cleaned = _clean(data, application.call, partial=True)
        _apply(application, cleaned)
    return application


def sniff(content: bytes) -> str | None:
    """The accepted MIME type of these bytes, or None."""
    kind = filetype.guess(content)
    if kind is None:
        return None
    mime = kind.mime
    if mime == "application/zip":
        # Office Open XML files are ZIPs; filetype tells DOCX / XLSX apart by their parts.
        return None
    return mime if mime in ACCEPTED_MIME else None


def _delete_file_after_commit(attachment: Attachment) -> None:
    # The row goes now; the file only once the deletion is committed (a rollback keeps both).
    storage, name = attachment.file.storage, attachment.file.name
    if name:
        transaction.on_commit(lambda: storage.delete(name))


def attachment_add(*, application_id: Any, user: Any, kind: str, name: str, content: bytes) -> Attachment:
    errors = _Errors()
    if kind not in AttachmentKind.values:
        errors.add("kind", _("Type de pièce inconnu (%(list)s).") % {"list": ", ".join(AttachmentKind.values)})
    if not content:
        errors.add("file", _("Le fichier est vide."))
    elif len(content) > settings.UPLOAD_MAX_BYTES:
        errors.add(
            "file",
            _("Le fichier dépasse la taille maximale de %(mb)s Mo.")
            % {"mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024)},
        )
    mime = sniff(content) if content else None
    if content and len(content) <= settings.UPLOAD_MAX_BYTES and mime is None:
        errors.add(
            "file", _("Format refusé : seuls les fichiers PDF, ODT, ODS, DOCX, XLSX, PNG et JPEG sont acceptés.")
        )
    errors.raise_if_any()
    display_name = (name or "").replace("\x00", "").strip()[:255] or "document"
    with transaction.atomic():
        application = (
            policy.visible_applications(user, Application.objects.select_for_update(of=("self",)))
            .filter(pk=application_id)
            .first()
        )
        if application is None:
            raise NotFound(_("Introuvable."))
        if policy.role_for(user, (Role.APPLICANT,), application) is None:
            raise Forbidden(_("Seul le porteur du dossier peut joindre des pièces."))
        if not application.is_editable:
            raise Conflict(_("Les pièces ne peuvent plus être modifiées dans l'état actuel du dossier."))
        if kind not in (AttachmentKind.OTHER, AttachmentKind.LETTER_OF_INTENT):
            # One file per required kind: a new upload replaces the previous one.
            for old in application.attachments.filter(kind=kind):
                _delete_file_after_commit(old)
                old.delete()
        attachment = Attachment(
            application=application,
            kind=kind,
            original_name=display_name,
            content_type=mime or "application/octet-stream",
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            uploaded_by=user,
        )
        attachment.file.save("upload", ContentFile(content), save=False)
        attachment.save()
    return attachment


def attachment_remove(*, attachment_id: int, user: Any) -> None:
    with transaction.atomic():
        attachment = Attachment.objects.select_related("application").filter(pk=attachment_id).first()
        if attachment is None or not policy.can_view(user, attachment.application):
            raise NotFound(_("Introuvable."))
        if policy.role_for(user, (Role.APPLICANT,), attachment.application) is None:
            raise Forbidden(_("Seul le porteur du dossier peut retirer des pièces."))
        if not attachment.application.is_editable:
            raise Conflict(_("Les pièces ne peuvent plus être modifiées dans l'état actuel du dossier."))
        _delete_file_after_commit(attachment)
        attachment.delete()


def default_start_date() -> dt.date:
    today = dt.date.today()
    return dt.date(today.year + 1, 1, 1)
