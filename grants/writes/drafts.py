"""Writing an application's content while it is editable (draft or completion requested),
and its attachments. Shared by the API and the web forms: the one place that validates
an application's fields."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import zipfile
from typing import Any

import filetype
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants import policy
from grants.answers import clean_answers
from grants.documents.storage import save_new_file
from grants.machines.payload import parse_amount, parse_date
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
from grants.writes import members
from workflows.engine import Context, Forbidden, Invalid, Spec, append_log, fire

FUNDING_FIELDS = {
    "own_cash": "own_cash",
    "own_in_kind": "own_in_kind",
    "partner": "partner_funding",
    "other": "other_funding",
    "requested": "requested_amount",
}
#: The states in which the applicant may still edit its application and attachments.
EDITABLE = (Application.State.DRAFT, Application.State.INCOMPLETE)
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


def _clean(
    data: dict[str, Any],
    call: Call,
    *,
    partial: bool,
    current_answers: dict[str, Any] | None = None,
    per_section: bool = False,
) -> dict[str, Any]:
    """Validate the writable fields present in ``data``; collect every error at once.
    ``per_section``: a section saved on the web, also held to the call's bounds."""
    errors = _Errors()
    cleaned: dict[str, Any] = {}
    if "answers" in data:  # the call's own questions (grants.answers: the one validator)
        try:
            cleaned["answers"] = clean_answers(list(call.questions.all()), data["answers"], current_answers)
        except Invalid as exc:
            errors.errors.update(exc.errors)
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
    for target in cleaned.get("sdg_targets", []):
        refusal = sdg_target_refusal(target)
        if refusal:
            errors.add("sdg_targets", refusal)
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
                            errors.add(f"budget.lines.{index}", f"{where} : " + _("format invalide."))
                            continue
                        year = line.get("year")
                        if isinstance(year, bool) or not str(year).isdigit() or not 1 <= int(str(year)) <= 10:
                            errors.add(
                                f"budget.lines.{index}.year", f"{where} : " + _("l'année du projet va de 1 à 10.")
                            )
                            continue
                        category = line.get("category")
                        if category not in categories:
                            errors.add(
                                f"budget.lines.{index}.category",
                                f"{where} : "
                                + _("catégorie inconnue (%(list)s).") % {"list": ", ".join(sorted(categories))},
                            )
                            continue
                        label = str(line.get("label") or "").strip()
                        if not label:
                            errors.add(f"budget.lines.{index}.label", f"{where} : " + _("le libellé est obligatoire."))
                            continue
                        try:
                            amount = parse_amount(line.get("amount"), "amount")
                        except Invalid as exc:
                            errors.add(f"budget.lines.{index}.amount", f"{where} : " + exc.errors["amount"][0])
                            continue
                        country = None
                        if line.get("country"):
                            country = Country.objects.filter(iso2=str(line["country"]).upper()).first()
                            if country is None:
                                errors.add(f"budget.lines.{index}.country", f"{where} : " + _("pays inconnu."))
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
    if per_section and cleaned.get("duration_months") is not None:
        # The call's bounds: checked when the section is saved on the web (the user sees it
        # on the field at once); a draft saved through the API meets them at submission.
        months = cleaned["duration_months"]
        if not call.min_duration_months <= months <= call.max_duration_months:
            errors.add(
                "duration_months",
                _("La durée de %(d)s mois sort des limites de l'appel : de %(min)s à %(max)s mois.")
                % {"d": months, "min": call.min_duration_months, "max": call.max_duration_months},
            )
    if "members" in data:
        # A turnkey programme's member authorities (grants.writes.members).
        cleaned["members"], member_errors = members.clean(data["members"], call)
        for field, messages in member_errors.items():
            for message in messages:
                errors.add(field, message)
    errors.raise_if_any()
    return cleaned


#: The targets of each of the 17 Sustainable Development Goals (UN resolution A/RES/71/313):
#: numbered ones 1..n, then lettered ones (means of implementation) a..x.
SDG_TARGETS: dict[int, tuple[int, str]] = {
    1: (5, "ab"),
    2: (5, "abc"),
    3: (9, "abcd"),
    4: (7, "abc"),
    5: (6, "abc"),
    6: (6, "ab"),
    7: (3, "ab"),
    8: (10, "ab"),
    9: (5, "abc"),
    10: (7, "abc"),
    11: (7, "abc"),
    12: (8, "abc"),
    13: (3, "ab"),
    14: (7, "abc"),
    15: (9, "abc"),
    16: (10, "ab"),
    17: (19, ""),
}
_SDG_TARGET = re.compile(r"^(\d{1,2})\.(\d{1,2}|[a-z])$")


def sdg_target_refusal(target: str) -> str | None:
    """Why ``target`` is not an SDG target ("6.1", "11.a"), or None when it is one."""
    match = _SDG_TARGET.match(target.strip().lower())
    if match is None:
        return _("« %(value)s » n'est pas une cible ODD : écrivez objectif.cible, par exemple 6.1 ou 11.a.") % {
            "value": target
        }
    goal, code = int(match.group(1)), match.group(2)
    if goal not in SDG_TARGETS:
        return _("« %(value)s » n'est pas une cible ODD : les objectifs vont de 1 à 17.") % {"value": target}
    numbered, lettered = SDG_TARGETS[goal]
    valid = int(code) in range(1, numbered + 1) if code.isdigit() else code in lettered
    if not valid:
        targets = _("%(first)s à %(last)s") % {"first": f"{goal}.1", "last": f"{goal}.{numbered}"}
        if lettered:
            targets += ", " + ", ".join(f"{goal}.{letter}" for letter in lettered)
        return _("La cible %(value)s n'existe pas : les cibles de l'objectif %(goal)s sont %(targets)s.") % {
            "value": target,
            "goal": goal,
            "targets": targets,
        }
    return None


def _apply(application: Application, cleaned: dict[str, Any]) -> None:
    simple = {k: v for k, v in cleaned.items() if k not in {"countries", "partners", "lines", "members"}}
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
    if "members" in cleaned:
        members.apply(application, cleaned["members"])


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


def _update_validate(payload: dict[str, Any], application: Application) -> dict[str, Any]:
    return _clean(payload, application.call, partial=True, current_answers=application.answers)


def _update_apply(application: Application, cleaned: dict[str, Any], ctx: Context) -> Application:
    _apply(application, cleaned)
    return application


def _section_validate(payload: dict[str, Any], application: Application) -> dict[str, Any]:
    return _clean(payload, application.call, partial=True, current_answers=application.answers, per_section=True)


UPDATE_DRAFT = Spec(
    Application,
    "update_draft",
    (Role.APPLICANT,),
    gettext_lazy("Modifier le dossier"),
    validate=_update_validate,
    fsm=False,
    apply=_update_apply,
    states=EDITABLE,
    refusal=gettext_lazy("Le dossier ne peut plus être modifié dans l'état « %(state)s »."),
)
#: The same write for one section of the web form: its fields are also held to the
#: call's bounds (duration), so the applicant learns it on the field when saving.
SAVE_SECTION = Spec(
    Application,
    "save_section",
    (Role.APPLICANT,),
    gettext_lazy("Enregistrer la section"),
    validate=_section_validate,
    fsm=False,
    apply=_update_apply,
    states=EDITABLE,
    refusal=gettext_lazy("Le dossier ne peut plus être modifié dans l'état « %(state)s »."),
)


def application_update(
    *, application_id: Any, user: Any, data: dict[str, Any], per_section: bool = False
) -> Application:
    """Write the given fields of an editable application. ``per_section``: one section of
    the web form, checked against the call's bounds as well."""
    spec = SAVE_SECTION if per_section else UPDATE_DRAFT
    result: Application = fire(spec, application_id, user=user, payload=data)
    return result


#: Office files are ZIP containers: their declared sizes are checked, never unpacked.
ARCHIVE_MIME = frozenset(
    {
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
)
MAX_ARCHIVE_ENTRIES = 2000
MAX_ARCHIVE_EXPANDED_BYTES = 200 * 1024 * 1024
MAX_ENTRY_RATIO = 100  # a text part compresses well, not a thousandfold
#: An application's attachments, all kinds together.
MAX_ATTACHMENTS = 30
MAX_ATTACHMENTS_TOTAL_BYTES = 100 * 1024 * 1024
# Markup a browser would run if the file were ever rendered as HTML (polyglots).
_MARKUP = re.compile(rb"<\s*(?:!doctype\s+html|html|head|body|script|iframe|object|embed|svg)\b", re.IGNORECASE)


def content_refusal(content: bytes, mime: str) -> str | None:
    """Why accepted-looking bytes are still refused (None: they are fine)."""
    if mime == "application/pdf" and not content.startswith(b"%PDF-"):
        return _("Ce fichier n'est pas un PDF valide.")
    if _MARKUP.search(content[:8192]):
        return _("Ce fichier contient du code de page web : il est refusé.")
    if mime in ARCHIVE_MIME:
        try:
            entries = zipfile.ZipFile(io.BytesIO(content)).infolist()
        except (zipfile.BadZipFile, ValueError, NotImplementedError):
            return _("Ce document bureautique est illisible.")
        expanded = sum(entry.file_size for entry in entries)
        if len(entries) > MAX_ARCHIVE_ENTRIES or expanded > MAX_ARCHIVE_EXPANDED_BYTES:
            return _("Ce document bureautique est anormalement volumineux une fois décompressé : il est refusé.")
        for entry in entries:
            if entry.file_size > 1024 * 1024 and entry.file_size > MAX_ENTRY_RATIO * max(entry.compress_size, 1):
                return _("Ce document bureautique est anormalement volumineux une fois décompressé : il est refusé.")
    return None


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


def _attachment_validate(payload: dict[str, Any], application: Application) -> dict[str, Any]:
    kind, content = payload.get("kind"), payload.get("content") or b""
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
    elif mime is not None:
        refusal = content_refusal(content, mime)
        if refusal:
            errors.add("file", refusal)
    if content and not errors.errors:
        kept = application.attachments.all()
        if kind not in (AttachmentKind.OTHER, AttachmentKind.LETTER_OF_INTENT):
            kept = kept.exclude(kind=kind)  # replaced by this upload
        count, total = len(kept), sum(a.size for a in kept)
        if count + 1 > MAX_ATTACHMENTS:
            errors.add("file", _("Un dossier compte au plus %(n)s pièces jointes.") % {"n": MAX_ATTACHMENTS})
        elif total + len(content) > MAX_ATTACHMENTS_TOTAL_BYTES:
            errors.add(
                "file",
                _("Les pièces jointes d'un dossier ne dépassent pas %(mb)s Mo au total.")
                % {"mb": MAX_ATTACHMENTS_TOTAL_BYTES // (1024 * 1024)},
            )
    member = _member_of(payload.get("member"), kind, application, errors)
    errors.raise_if_any()
    name = str(payload.get("name") or "")
    display_name = name.replace("\x00", "").strip()[:255] or "document"
    return {"kind": kind, "content": content, "mime": mime, "name": display_name, "member": member}


def _member_of(raw: Any, kind: Any, application: Application, errors: _Errors) -> Any:
    """A turnkey programme's council resolution names its member authority (by id)."""
    if raw in (None, ""):
        return None
    if kind != AttachmentKind.COUNCIL_RESOLUTION:
        errors.add("member", _("Seule une délibération se rattache à une collectivité membre."))
        return None
    member = (
        application.members.filter(pk=int(str(raw))).first() if str(raw).isdigit() else None
    )  # another application's member is unknown here
    if member is None:
        errors.add("member", _("Collectivité membre inconnue pour ce dossier."))
    return member


def _attachment_apply(application: Application, cleaned: dict[str, Any], ctx: Context) -> Attachment:
    kind, content = cleaned["kind"], cleaned["content"]
    if kind not in (AttachmentKind.OTHER, AttachmentKind.LETTER_OF_INTENT):
        # One file per required kind (per member for a member's resolution): a new upload
        # replaces the previous one.
        for old in application.attachments.filter(kind=kind, member=cleaned.get("member")):
            _delete_file_after_commit(old)
            old.delete()
    attachment = Attachment(
        application=application,
        kind=kind,
        original_name=cleaned["name"],
        content_type=cleaned["mime"] or "application/octet-stream",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=ctx.user,
        member=cleaned.get("member"),
    )
    save_new_file(attachment.file, "upload", ContentFile(content))
    attachment.save()
    return attachment


ADD_ATTACHMENT = Spec(
    Application,
    "add_attachment",
    (Role.APPLICANT,),
    gettext_lazy("Joindre une pièce"),
    validate=_attachment_validate,
    fsm=False,
    apply=_attachment_apply,
    states=EDITABLE,
    refusal=gettext_lazy("Les pièces ne peuvent plus être modifiées dans l'état « %(state)s » du dossier."),
)


def attachment_add(
    *, application_id: Any, user: Any, kind: str, name: str, content: bytes, member: Any = None
) -> Attachment:
    """``member``: a turnkey programme's member authority (its id) whose council
    resolution this is."""
    result: Attachment = fire(
        ADD_ATTACHMENT,
        application_id,
        user=user,
        payload={"kind": kind, "name": name, "content": content, "member": member},
    )
    return result


def _remove_apply(attachment: Attachment, cleaned: dict[str, Any], ctx: Context) -> None:
    _delete_file_after_commit(attachment)
    attachment.delete()


REMOVE_ATTACHMENT = Spec(
    Attachment,
    "remove",
    (Role.APPLICANT,),
    gettext_lazy("Retirer la pièce"),
    fsm=False,
    apply=_remove_apply,
    states=EDITABLE,
    refusal=gettext_lazy("Les pièces ne peuvent plus être modifiées dans l'état « %(state)s » du dossier."),
)


def attachment_remove(*, attachment_id: int, user: Any) -> None:
    fire(REMOVE_ATTACHMENT, attachment_id, user=user)


SPECS = (UPDATE_DRAFT, SAVE_SECTION, ADD_ATTACHMENT, REMOVE_ATTACHMENT)


def default_start_date() -> dt.date:
    today = dt.date.today()
    return dt.date(today.year + 1, 1, 1)
