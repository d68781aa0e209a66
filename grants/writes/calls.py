"""Configuring a call (issue 15): create it, edit it, duplicate it, its questions.

One cleaning for the API and the editor's pages (``clean``): the types of every setting
are checked when saving (400 with the field and the reason); whether the settings make a
call that can be published is the publication's condition (``grants.machines.call``).

* A call is edited only in ``draft``; while ``published`` only ``closes_at`` may change,
  and only later (an extension: the authorities with drafts are told). Anything else is
  a 409 with the reason: applications were filed under those rules.
* Optimistic concurrency: ``version`` (sent back by the client) must be the call's
  current one, else 409: the second of two concurrent saves never overwrites the first.
* Questions: ``questions`` replaces the call's list (their order is the list's); a code
  used twice is refused; nothing changes on the questions of a published call.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grants.machines.payload import parse_amount
from grants.models import Application, Call, Country, Role
from grants.policy.call_editor import may_create_call
from grants.questions import CallQuestion
from workflows.engine import Conflict, Context, Forbidden, Invalid, Spec, append_log, fire
from workflows.registry import publish

PARIS = ZoneInfo("Europe/Paris")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
QUESTION_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

RATE_FIELDS = (
    "rate_pma",
    "rate_apd",
    "rate_non_apd",
    "rate_multi_country",
    "min_own_contribution",
    "max_in_kind_share",
    "budget_change_threshold",
)
#: Whole numbers with their bounds (types only: consistency is the publication's check).
INT_FIELDS = {
    "min_duration_months": (1, 240),
    "max_duration_months": (1, 240),
    "opinion_deadline_days": (1, 365),
    "eligibility_deadline_days": (1, 365),
    "review_deadline_days": (1, 365),
    "min_reviews": (0, 50),
    "interim_report_days": (1, 730),
    "final_report_months": (1, 60),
    "max_extension_months": (0, 120),
    "min_members": (1, 100),
}
BOOL_FIELDS = ("prefecture_opinion_required", "consensus_required", "block_overdue_reports")
TEXT_FIELDS = {"title": 250, "description": 20000}
#: Every setting a call's payload may carry (``code`` only at creation).
SETTINGS = (
    "title",
    "description",
    "kind",
    "opens_at",
    "closes_at",
    "envelope",
    *RATE_FIELDS,
    "multi_country_rule",
    *INT_FIELDS,
    *BOOL_FIELDS,
    "required_attachments",
    "scoring_criteria",
    "reminder_steps",
    "eligible_countries",
)
#: What may change on a published call.
PUBLISHED_EDITABLE = frozenset({"closes_at"})


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def take(self, exc: Invalid) -> None:
        for name, messages in exc.errors.items():
            for message in messages:
                self.add(name, str(message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise Invalid(_("Données invalides."), errors=self.errors)


def parse_moment(value: Any, name: str) -> dt.datetime:
    """An ISO 8601 date-time; without an offset it is Paris time."""
    parsed = value if isinstance(value, dt.datetime) else None
    if parsed is None and isinstance(value, str):
        parsed = parse_datetime(value.strip())
    if parsed is None:
        raise Invalid(errors={name: [_("Date et heure invalides : format attendu AAAA-MM-JJTHH:MM.")]})
    moment: dt.datetime = parsed
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=PARIS)
    return moment


def parse_rate(value: Any, name: str) -> Decimal:
    """A rate as a fraction ("0.7" = 70 %), exact (an int, a decimal string; a JSON number
    is read through its shortest text, never as a binary float)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise Invalid(errors={name: [_("Indiquez un taux (fraction décimale, par ex. 0.7 pour 70 %).")]})
    try:
        rate = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise Invalid(errors={name: [_("Indiquez un taux (fraction décimale, par ex. 0.7 pour 70 %).")]}) from None
    if not rate.is_finite() or abs(rate) >= 10:
        raise Invalid(errors={name: [_("Indiquez un taux (fraction décimale, par ex. 0.7 pour 70 %).")]})
    if rate.as_tuple().exponent < -4:  # type: ignore[operator]
        raise Invalid(errors={name: [_("Un taux a au plus quatre décimales (0,01 %).")]})
    return rate


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,6}", value.strip()):
        return int(value.strip())
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in ("true", "on", "1", "oui", "yes"):
        return True
    if value in ("false", "off", "0", "non", "no", ""):
        return False
    return None


def _criteria(raw: Any, errors: _Errors) -> list[dict[str, Any]] | None:
    if not isinstance(raw, list):
        errors.add("scoring_criteria", _("Indiquez une liste de critères {code, label, label_en, weight}."))
        return None
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"scoring_criteria.{index}"
        n = {"n": index + 1}
        if not isinstance(item, dict):
            errors.add(where, _("Critère n° %(n)s : format invalide.") % n)
            continue
        code = str(item.get("code") or "").strip()
        label = str(item.get("label") or "").strip()
        if not QUESTION_CODE_RE.match(code):
            errors.add(
                f"{where}.code", _("Critère n° %(n)s : code invalide (lettres minuscules, chiffres, - et _).") % n
            )
            continue
        if code in seen:
            errors.add(
                f"{where}.code", _("Critère n° %(n)s : le code « %(code)s » est déjà utilisé.") % {**n, "code": code}
            )
            continue
        seen.add(code)
        if not label:
            errors.add(f"{where}.label", _("Critère n° %(n)s : le libellé est obligatoire.") % n)
            continue
        weight = _int(item.get("weight", 1))
        if weight is None:
            errors.add(f"{where}.weight", _("Critère n° %(n)s : le poids est un nombre entier.") % n)
            continue
        criterion: dict[str, Any] = {"code": code, "label": label[:200], "weight": weight}
        label_en = str(item.get("label_en") or "").strip()
        if label_en:
            criterion["label_en"] = label_en[:200]
        out.append(criterion)
    return out


def _choices(raw: Any, where: str, n: dict[str, Any], errors: _Errors) -> list[dict[str, str]] | None:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        errors.add(f"{where}.choices", _("Question n° %(n)s : les choix sont une liste.") % n)
        return None
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for item in raw:
        if isinstance(item, str):
            item = {"value": item, "label": item}
        if not isinstance(item, dict) or not str(item.get("label") or item.get("value") or "").strip():
            errors.add(f"{where}.choices", _("Question n° %(n)s : chaque choix a un libellé.") % n)
            return None
        label = str(item.get("label") or item.get("value")).strip()[:200]
        value = str(item.get("value") or "").strip()[:60] or slugify(label)[:60]
        value = value or str(len(out) + 1)
        if value in seen:
            errors.add(
                f"{where}.choices", _("Question n° %(n)s : le choix « %(v)s » est en double.") % {**n, "v": value}
            )
            return None
        seen.add(value)
        out.append({"value": value, "label": label, "label_en": str(item.get("label_en") or "").strip()[:200]})
    return out


def clean_questions(raw: Any) -> list[dict[str, Any]]:
    """The call's questions, in order, or ``Invalid`` (a reused code included)."""
    errors = _Errors()
    if not isinstance(raw, list):
        raise Invalid(errors={"questions": [_("Indiquez une liste de questions.")]})
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    types = CallQuestion.Type.values
    for index, item in enumerate(raw):
        where = f"questions.{index}"
        n = {"n": index + 1}
        if not isinstance(item, dict):
            errors.add(where, _("Question n° %(n)s : format invalide.") % n)
            continue
        code = str(item.get("code") or "").strip()
        if not QUESTION_CODE_RE.match(code):
            errors.add(
                f"{where}.code", _("Question n° %(n)s : code invalide (lettres minuscules, chiffres, - et _).") % n
            )
            continue
        if code in seen:
            errors.add(
                f"{where}.code",
                _("Question n° %(n)s : le code « %(code)s » est déjà utilisé par une autre question de l'appel.")
                % {**n, "code": code},
            )
            continue
        seen.add(code)
        label = str(item.get("label") or "").strip()
        if not label:
            errors.add(f"{where}.label", _("Question n° %(n)s : le libellé est obligatoire.") % n)
        kind = item.get("type", CallQuestion.Type.TEXT)
        if kind not in types:
            errors.add(
                f"{where}.type", _("Question n° %(n)s : type inconnu (%(list)s).") % {**n, "list": ", ".join(types)}
            )
            continue
        choices = _choices(item.get("choices"), where, n, errors)
        required = _bool(item.get("required", False))
        if required is None:
            errors.add(f"{where}.required", _("Question n° %(n)s : « required » vaut true ou false.") % n)
        bounds: dict[str, Decimal | None] = {}
        for key in ("min", "max"):
            value = item.get(key)
            if value in (None, ""):
                bounds[key] = None
                continue
            try:
                bound = Decimal(str(value).strip().replace(",", "."))
                if not bound.is_finite() or abs(bound) >= Decimal("1e12"):
                    raise InvalidOperation
                bounds[key] = bound
            except InvalidOperation:
                errors.add(f"{where}.{key}", _("Question n° %(n)s : la borne est un nombre.") % n)
                bounds[key] = None
        low, high = bounds.get("min"), bounds.get("max")
        if low is not None and high is not None and low > high:
            errors.add(f"{where}.min", _("Question n° %(n)s : le minimum dépasse le maximum.") % n)
        out.append(
            {
                "code": code,
                "label": label[:300],
                "label_en": str(item.get("label_en") or "").strip()[:300],
                "help": str(item.get("help") or "").strip()[:2000],
                "help_en": str(item.get("help_en") or "").strip()[:2000],
                "type": kind,
                "choices": choices or [],
                "required": bool(required),
                "min_value": low.quantize(Decimal("0.01")) if low is not None else None,
                "max_value": high.quantize(Decimal("0.01")) if high is not None else None,
                "position": index,
            }
        )
    errors.raise_if_any()
    return out


def clean(data: dict[str, Any], *, current: Call | None) -> dict[str, Any]:
    """The settings present in ``data``, typed; every type error at once (``Invalid``)."""
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
            else:
                cleaned[name] = value
    if "kind" in data:
        if data["kind"] in Call.Kind.values:
            cleaned["kind"] = data["kind"]
        else:
            errors.add("kind", _("Type d'appel inconnu (%(list)s).") % {"list": ", ".join(Call.Kind.values)})
    if "multi_country_rule" in data:
        if data["multi_country_rule"] in Call.MultiCountryRule.values:
            cleaned["multi_country_rule"] = data["multi_country_rule"]
        else:
            errors.add(
                "multi_country_rule",
                _("Règle inconnue (%(list)s).") % {"list": ", ".join(Call.MultiCountryRule.values)},
            )
    for name in ("opens_at", "closes_at"):
        if name in data:
            try:
                cleaned[name] = parse_moment(data[name], name)
            except Invalid as exc:
                errors.take(exc)
    if "envelope" in data:
        try:
            cleaned["envelope"] = parse_amount(data["envelope"], "envelope")
        except Invalid as exc:
            errors.take(exc)
    for name in RATE_FIELDS:
        if name in data:
            try:
                cleaned[name] = parse_rate(data[name], name)
            except Invalid as exc:
                errors.take(exc)
    for name, (low, high) in INT_FIELDS.items():
        if name in data:
            value = _int(data[name])
            if value is None or not low <= value <= high:
                errors.add(name, _("Indiquez un nombre entier de %(min)s à %(max)s.") % {"min": low, "max": high})
            else:
                cleaned[name] = value
    for name in BOOL_FIELDS:
        if name in data:
            flag = _bool(data[name])
            if flag is None:
                errors.add(name, _("Indiquez true ou false."))
            else:
                cleaned[name] = flag
    if "required_attachments" in data:
        kinds = data["required_attachments"]
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            errors.add("required_attachments", _("Indiquez une liste de types de pièces."))
        else:
            # Unknown kinds are kept: the publication refuses them, with their names.
            cleaned["required_attachments"] = list(dict.fromkeys(k.strip()[:40] for k in kinds if k.strip()))[:20]
    if "scoring_criteria" in data:
        criteria = _criteria(data["scoring_criteria"], errors)
        if criteria is not None:
            cleaned["scoring_criteria"] = criteria
    if "reminder_steps" in data:
        steps = data["reminder_steps"]
        parsed = [_int(v) for v in steps] if isinstance(steps, list) else None
        if parsed is None or any(v is None or not -90 <= v <= 90 for v in parsed):
            errors.add(
                "reminder_steps", _("Indiquez une liste de jours (entiers de -90 à 90) par rapport à l'échéance.")
            )
        else:
            cleaned["reminder_steps"] = sorted(set(parsed))  # type: ignore[type-var]
    if "eligible_countries" in data:
        codes = data["eligible_countries"]
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            errors.add("eligible_countries", _("Indiquez une liste de codes pays ISO à deux lettres."))
        else:
            wanted = sorted({c.strip().upper() for c in codes if c.strip()})
            found = {c.iso2: c for c in Country.objects.filter(iso2__in=wanted)}
            unknown = [c for c in wanted if c not in found]
            if unknown:
                errors.add("eligible_countries", _("Codes pays inconnus : %(list)s.") % {"list": ", ".join(unknown)})
            else:
                cleaned["eligible_countries"] = [found[c] for c in wanted]
    if "questions" in data:
        try:
            cleaned["questions"] = clean_questions(data["questions"])
        except Invalid as exc:
            errors.take(exc)
    # The two rules the database itself holds (a call cannot even be saved against them).
    opens = cleaned.get("opens_at", current.opens_at if current else None)
    closes = cleaned.get("closes_at", current.closes_at if current else None)
    if opens is not None and closes is not None and closes <= opens and "closes_at" not in errors.errors:
        errors.add("closes_at", _("La clôture doit être postérieure à l'ouverture."))
    low = cleaned.get("min_duration_months", current.min_duration_months if current else 12)
    high = cleaned.get("max_duration_months", current.max_duration_months if current else 36)
    if low > high and "min_duration_months" not in errors.errors:
        errors.add("min_duration_months", _("La durée minimale dépasse la durée maximale."))
    errors.raise_if_any()
    return cleaned


def _write(call: Call, cleaned: dict[str, Any]) -> None:
    for name, value in cleaned.items():
        if name not in ("eligible_countries", "questions"):
            setattr(call, name, value)
    call.save()
    if "eligible_countries" in cleaned:
        call.eligible_countries.set(cleaned["eligible_countries"])
    if "questions" in cleaned:
        call.questions.all().delete()
        CallQuestion.objects.bulk_create(CallQuestion(call=call, **q) for q in cleaned["questions"])


def _changed(call: Call, cleaned: dict[str, Any]) -> list[str]:
    return sorted(cleaned)


# --- creation -------------------------------------------------------------------------------------


def call_create(*, user: Any, data: dict[str, Any]) -> Call:
    """A new call, in ``draft`` (admin, or an instructor for every call)."""
    if not may_create_call(user):
        raise Forbidden(_("Seuls un administrateur ou un chargé de mission sans restriction d'appel créent un appel."))
    errors = _Errors()
    code = data.get("code")
    if not isinstance(code, str) or not CODE_RE.match(code.strip()):
        errors.add(
            "code", _("Indiquez un code de 1 à 32 caractères (lettres, chiffres, - et _), par ex. AAP-2027-GEN.")
        )
    elif Call.objects.filter(code__iexact=code.strip()).exists():
        errors.add("code", _("Ce code est déjà celui d'un autre appel."))
    for name in ("title", "opens_at", "closes_at"):
        if data.get(name) in (None, ""):
            errors.add(name, _("Ce champ est obligatoire."))
    try:
        cleaned = clean({k: v for k, v in data.items() if k in (*SETTINGS, "questions")}, current=None)
    except Invalid as exc:
        errors.take(exc)
        cleaned = {}
    errors.raise_if_any()
    role = Role.ADMIN if Role.ADMIN in _roles(user) else Role.INSTRUCTOR
    try:
        with transaction.atomic():
            call = Call(code=code.strip(), envelope=Decimal("0.00"))  # type: ignore[union-attr]
            _write(call, cleaned)
            append_log(
                subject=call,
                application=None,
                transition="create",
                source="",
                target=call.state,
                user=user,
                role=role,
                payload={"fields": _changed(call, cleaned)},
            )
    except IntegrityError:
        raise Invalid(errors={"code": [_("Ce code est déjà celui d'un autre appel.")]}) from None
    return call


def _roles(user: Any) -> set[str]:
    from grants.policy.scopes import scopes

    return scopes(user).roles


# --- edition --------------------------------------------------------------------------------------


def check_version(call: Call, payload: dict[str, Any]) -> None:
    """The optimistic concurrency check (the call's row is locked: no race past it)."""
    if "version" not in payload or payload["version"] in (None, ""):
        return
    sent = _int(payload["version"])
    if sent != call.version:
        raise Conflict(
            _(
                "Cet appel a été modifié par quelqu'un d'autre pendant que vous l'éditiez : rechargez la page "
                "pour voir ses réglages actuels, puis refaites vos modifications."
            )
        )


def _update_validate(payload: dict[str, Any], call: Call) -> dict[str, Any]:
    check_version(call, payload)
    data = {k: v for k, v in payload.items() if k != "version"}
    if call.state == Call.State.PUBLISHED:
        frozen = sorted(k for k in data if k not in PUBLISHED_EDITABLE)
        if frozen:
            raise Conflict(
                _("L'appel est publié : ses règles ne peuvent plus changer."),
                unmet=[
                    _(
                        "L'appel est publié : seule la date de clôture peut être reportée ; les autres réglages "
                        "sont figés car des dossiers ont été préparés selon ces règles (%(list)s)."
                    )
                    % {"list": ", ".join(frozen)}
                ],
            )
    unknown = sorted(k for k in data if k not in (*SETTINGS, "questions"))
    if unknown:
        raise Invalid(errors={k: [_("Ce réglage n'existe pas ou ne se modifie pas.")] for k in unknown})
    cleaned = clean(data, current=call)
    if call.state == Call.State.PUBLISHED and "closes_at" in cleaned:
        if cleaned["closes_at"] < call.closes_at:
            raise Conflict(
                _("La date de clôture d'un appel publié peut être reportée, jamais avancée."),
                unmet=[
                    _(
                        "La date de clôture d'un appel publié peut être reportée, jamais avancée (actuellement %(date)s)."
                    )
                    % {"date": timezone.localtime(call.closes_at, PARIS).strftime("%d/%m/%Y %H:%M")}
                ],
            )
        if cleaned["closes_at"] == call.closes_at:
            del cleaned["closes_at"]
    return cleaned


def _update_apply(call: Call, cleaned: dict[str, Any], ctx: Context) -> Call:
    previous_closing = call.closes_at
    call.version += 1
    _write(call, cleaned)
    ctx.log = append_log(
        subject=call,
        application=None,
        transition="update",
        source=call.state,
        target=call.state,
        user=ctx.user,
        role=ctx.role,
        payload={"fields": _changed(call, cleaned), "version": call.version},
        at=ctx.now,
    )
    if call.state == Call.State.PUBLISHED and call.closes_at > previous_closing:
        _tell_drafts(call, ctx)
    return call


def _tell_drafts(call: Call, ctx: Context) -> None:
    """The closing date was put off: each authority with a draft on the call is told."""
    anchor = ctx.log.pk if ctx.log is not None else 0
    drafts = Application.objects.filter(call=call, state=Application.State.DRAFT).select_related("call", "organisation")
    for application in drafts:
        publish(
            "call_extended",
            application=application,
            actor=ctx.user,
            extra={"closes_at": call.closes_at, "anchor": f"call-{anchor}"},
        )


UPDATE_CALL = Spec(
    Call,
    "update",
    (Role.INSTRUCTOR, Role.ADMIN),
    gettext_lazy("Modifier l'appel"),
    validate=_update_validate,
    fsm=False,
    apply=_update_apply,
    states=(Call.State.DRAFT, Call.State.PUBLISHED),
    history_label=gettext_lazy("Appel modifié"),
    refusal=gettext_lazy("Un appel ne se modifie plus dans l'état « %(state)s »."),
)


def call_update(*, code: str, user: Any, data: dict[str, Any]) -> Call:
    call_id = Call.objects.filter(code=code).values_list("pk", flat=True).first()
    result: Call = fire(UPDATE_CALL, call_id if call_id is not None else 0, user=user, payload=data)
    return result


# --- duplication ----------------------------------------------------------------------------------

COPIED = (
    "description",
    "kind",
    "opens_at",
    "closes_at",
    "envelope",
    *RATE_FIELDS,
    "multi_country_rule",
    *INT_FIELDS,
    *BOOL_FIELDS,
    "required_attachments",
    "scoring_criteria",
    "reminder_steps",
)


def _duplicate_validate(payload: dict[str, Any], source: Call) -> dict[str, Any]:
    code = payload.get("code")
    if not isinstance(code, str) or not CODE_RE.match(code.strip()):
        raise Invalid(
            errors={
                "code": [_("Indiquez un code de 1 à 32 caractères (lettres, chiffres, - et _), par ex. AAP-2027-GEN.")]
            }
        )
    if Call.objects.filter(code__iexact=code.strip()).exists():
        raise Invalid(errors={"code": [_("Ce code est déjà celui d'un autre appel.")]})
    title = str(payload.get("title") or "").strip()[:250] or (_("Copie de %(title)s") % {"title": source.title})[:250]
    return {"code": code.strip(), "title": title}


def _duplicate_guard(source: Call, cleaned: dict[str, Any], ctx: Context) -> list[str]:
    if not may_create_call(ctx.user):
        raise Forbidden(_("Seuls un administrateur ou un chargé de mission sans restriction d'appel créent un appel."))
    return []


def _duplicate_apply(source: Call, cleaned: dict[str, Any], ctx: Context) -> Call:
    call = Call(code=cleaned["code"], title=cleaned["title"])
    for name in COPIED:
        value = getattr(source, name)
        setattr(call, name, list(value) if isinstance(value, list) else value)
    call.scoring_criteria = [dict(c) for c in source.scoring_criteria]
    call.save()
    call.eligible_countries.set(source.eligible_countries.all())
    CallQuestion.objects.bulk_create(
        CallQuestion(
            call=call,
            **{
                f: getattr(q, f)
                for f in ("code", "label", "label_en", "help", "help_en", "type", "required", "min_value", "max_value")
            },
            choices=[dict(c) for c in q.choices or []],
            position=q.position,
        )
        for q in source.questions.all()
    )
    ctx.log = append_log(
        subject=call,
        application=None,
        transition="create",
        source="",
        target=call.state,
        user=ctx.user,
        role=ctx.role,
        payload={"duplicate_of": source.code},
        at=ctx.now,
    )
    return call


DUPLICATE_CALL = Spec(
    Call,
    "duplicate",
    (Role.INSTRUCTOR, Role.ADMIN),
    gettext_lazy("Dupliquer l'appel"),
    validate=_duplicate_validate,
    guard=_duplicate_guard,
    fsm=False,
    apply=_duplicate_apply,
    history_label=gettext_lazy("Appel créé par duplication"),
)


def call_duplicate(*, source_code: str, user: Any, code: str, title: str = "") -> Call:
    call_id = Call.objects.filter(code=source_code).values_list("pk", flat=True).first()
    result: Call = fire(
        DUPLICATE_CALL, call_id if call_id is not None else 0, user=user, payload={"code": code, "title": title}
    )
    return result


SPECS = (UPDATE_CALL, DUPLICATE_CALL)
