"""What each workflow event says, to whom, in which category.

``ROUTES`` maps a workflow event (``notifications.services.emit``) to the messages it
produces and their audiences; ``MESSAGES`` holds each message's wording (French source,
English in ``notifications/locale``), rendered in the recipient's language by
``notifications.rendering``. Applicants' messages never carry opinion or review
content: they say what happened to their application, nothing of what staff said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from notifications.models import Category

# --- audiences -----------------------------------------------------------------------
APPLICANTS = "applicants"  # applicant users of the application's organisation
INSTRUCTORS = "instructors"  # instructors of the call (unscoped or scoped to the call)
SECRETARIES = "secretaries"
SIGNATORIES = "signatories"
FINANCE = "finance"
AUTHORITY = "authority"  # embassy users of the request's country / prefecture users of its region
REVIEWER = "reviewer"  # the review's reviewer

AUDIENCE_ROLES = {
    INSTRUCTORS: "instructor",
    SECRETARIES: "secretary",
    SIGNATORIES: "signatory",
    FINANCE: "finance",
}


@dataclass(frozen=True)
class Line:
    """A paragraph: wording with %(name)s placeholders, or (``quote``) the user text held
    in ``params[quote]``, shown as a quotation. ``when`` keeps it only if that param is set."""

    text: Promise | str = ""
    when: str | None = None
    quote: str | None = None


OPEN_IN_PLATFORM = _("Ouvrir dans la plateforme")


@dataclass(frozen=True)
class Message:
    code: str
    category: str
    subject: Promise
    lines: tuple[Line, ...]
    action: Promise = OPEN_IN_PLATFORM


@dataclass(frozen=True)
class Route:
    message: str
    audience: str
    # The person who fired the transition hears about it only for receipts.
    include_actor: bool = False
    when: str | None = None  # only if this param is set (e.g. a reference)


#: The evaluation summary delivered with the decision letter (its own verification code).
SUMMARY = Line(
    _(
        "La synthèse de l'évaluation (notes du comité par critère et son appréciation) l'accompagne, "
        "code de vérification : %(summary_code)s."
    ),
    when="summary_code",
)
APPEAL = Line(
    _(
        "Cette décision peut faire l'objet d'un recours gracieux auprès de la délégation ou d'un recours "
        "contentieux devant le tribunal administratif dans un délai de deux mois à compter de sa notification."
    )
)

_MESSAGES = [
    # --- applicants -----------------------------------------------------------------
    Message(
        "receipt",
        Category.STATUS,
        _("Dossier %(reference)s déposé"),
        (
            Line(
                _(
                    "Votre dossier « %(title)s » a bien été déposé le %(submitted_at)s au titre de l'appel à "
                    "projets %(call)s."
                )
            ),
            Line(_("Sa référence est %(reference)s : rappelez-la dans vos échanges avec la délégation.")),
            Line(_("L'accusé de dépôt est disponible dans votre espace.")),
        ),
    ),
    Message(
        "resubmitted_receipt",
        Category.STATUS,
        _("Dossier %(reference)s complété"),
        (
            Line(_("Les compléments de votre dossier « %(title)s » ont bien été reçus le %(submitted_at)s.")),
            Line(_("L'instruction de votre dossier reprend.")),
        ),
    ),
    Message(
        "completion_requested",
        Category.LEGAL,
        _("Compléments demandés : dossier %(reference)s"),
        (
            Line(_("La délégation demande des compléments sur votre dossier « %(title)s » :")),
            Line(quote="message"),
            Line(_("Complétez votre dossier et redéposez-le avant le %(due_date)s.")),
            Line(_("Sans réponse dans ce délai, votre dossier pourra être déclaré irrecevable.")),
        ),
    ),
    Message(
        "eligible",
        Category.STATUS,
        _("Dossier %(reference)s déclaré recevable"),
        (
            Line(_("Votre dossier « %(title)s » est recevable.")),
            Line(_("Son instruction se poursuit : vous serez informé de la suite qui lui sera donnée.")),
        ),
    ),
    Message(
        "ineligible",
        Category.LEGAL,
        _("Dossier %(reference)s déclaré irrecevable"),
        (
            Line(_("Votre dossier « %(title)s » a été déclaré irrecevable pour le motif suivant :")),
            Line(quote="reason"),
            Line(_("La notification officielle d'irrecevabilité est disponible dans votre espace.")),
            APPEAL,
        ),
    ),
    Message(
        "withdrawn",
        Category.STATUS,
        _("Dossier %(label)s retiré"),
        (Line(_("Le dossier « %(title)s » a été retiré : il ne sera pas instruit.")),),
    ),
    Message(
        "reinstated",
        Category.STATUS,
        _("Dossier %(reference)s rétabli"),
        (Line(_("Votre dossier « %(title)s » a été rétabli : son instruction reprend.")),),
    ),
    Message(
        "decision_delivered_approved",
        Category.LEGAL,
        _("Décision sur votre dossier %(reference)s : projet retenu"),
        (
            Line(_("Le comité de sélection a retenu votre projet « %(title)s ».")),
            Line(_("Montant attribué : %(amount)s.")),
            Line(_("La lettre de notification signée est disponible dans votre espace.")),
            Line(_("Code de vérification du document : %(verification_code)s."), when="verification_code"),
            SUMMARY,
            APPEAL,
        ),
        _("Télécharger la lettre de notification"),
    ),
    Message(
        "decision_delivered_rejected",
        Category.LEGAL,
        _("Décision sur votre dossier %(reference)s : projet non retenu"),
        (
            Line(_("Le comité de sélection n'a pas retenu votre projet « %(title)s ».")),
            Line(_("La lettre de notification signée, qui en expose les motifs, est disponible dans votre espace.")),
            Line(_("Code de vérification du document : %(verification_code)s."), when="verification_code"),
            SUMMARY,
            APPEAL,
        ),
        _("Télécharger la lettre de notification"),
    ),
    Message(
        "draft_reminder",
        Category.STATUS,
        _("Brouillon non déposé : l'appel %(call)s clôt le %(closes_at)s"),
        (
            Line(_("Votre dossier « %(title)s » est encore à l'état de brouillon.")),
            Line(_("L'appel à projets %(call)s clôt le %(closes_at)s : déposez votre dossier avant cette date.")),
        ),
    ),
    # --- instruction ----------------------------------------------------------------
    Message(
        "submitted_staff",
        Category.INSTRUCTION,
        _("Nouveau dossier déposé : %(reference)s"),
        (
            Line(_("%(organisation)s a déposé le dossier « %(title)s » sur l'appel %(call)s.")),
            Line(_("Sa recevabilité est à vérifier.")),
        ),
    ),
    Message(
        "resubmitted_staff",
        Category.INSTRUCTION,
        _("Dossier complété : %(reference)s"),
        (
            Line(_("%(organisation)s a complété le dossier « %(title)s ».")),
            Line(_("Sa recevabilité est à vérifier de nouveau.")),
        ),
    ),
    Message(
        "withdrawn_staff",
        Category.INSTRUCTION,
        _("Dossier retiré : %(reference)s"),
        (
            Line(_("%(organisation)s a retiré le dossier « %(title)s ».")),
            Line(_("Les tâches et demandes d'avis en cours sur ce dossier sont annulées.")),
        ),
    ),
    Message(
        "reinstated_staff",
        Category.INSTRUCTION,
        _("Dossier rétabli : %(reference)s"),
        (Line(_("Le dossier « %(title)s » a été rétabli : sa recevabilité est à vérifier.")),),
    ),
    Message(
        "opinion_given",
        Category.INSTRUCTION,
        _("Avis rendu : dossier %(reference)s (%(place)s)"),
        (Line(_("Avis rendu sur le dossier « %(title)s » par : %(authority)s.")),),
    ),
    Message(
        "opinions_closed",
        Category.INSTRUCTION,
        _("Phase d'avis close : dossier %(reference)s"),
        (
            Line(_("La phase d'avis du dossier « %(title)s » est close : le dossier passe en évaluation.")),
            Line(_("Avis rendus : %(given)s. Avis non rendus : %(expired)s.")),
        ),
    ),
    Message(
        "review_submitted",
        Category.INSTRUCTION,
        _("Évaluation rendue : dossier %(reference)s"),
        (Line(_("%(reviewer)s a rendu son évaluation du dossier « %(title)s ».")),),
    ),
    Message(
        "review_declined",
        Category.INSTRUCTION,
        _("Évaluation déclinée : dossier %(reference)s"),
        (
            Line(_("%(reviewer)s a décliné l'évaluation du dossier « %(title)s ».")),
            Line(_("Désignez un autre évaluateur si le nombre minimal d'évaluations n'est plus atteignable.")),
        ),
    ),
    Message(
        "review_conflict",
        Category.INSTRUCTION,
        _("Conflit d'intérêts déclaré : dossier %(reference)s"),
        (
            Line(
                _(
                    "%(reviewer)s a déclaré un conflit d'intérêts sur le dossier « %(title)s » : son évaluation est déclinée."
                )
            ),
            Line(quote="reason", when="reason"),
            Line(_("Désignez un autre évaluateur si le nombre minimal d'évaluations n'est plus atteignable.")),
        ),
    ),
    # --- opinions ---------------------------------------------------------------------
    Message(
        "opinion_requested",
        Category.OPINIONS,
        _("Avis demandé : dossier %(reference)s (%(place)s)"),
        (
            Line(
                _(
                    "La délégation sollicite votre avis sur le dossier « %(title)s » déposé par %(organisation)s "
                    "(appel %(call)s)."
                )
            ),
            Line(_("Avis demandé à : %(authority)s.")),
            Line(_("Merci de rendre votre avis avant le %(due_at)s.")),
            Line(_("Passé ce délai, la demande sera close et le dossier poursuivra son instruction sans votre avis.")),
        ),
    ),
    Message(
        "opinion_expired",
        Category.OPINIONS,
        _("Avis non rendu : dossier %(reference)s (%(place)s)"),
        (
            Line(_("L'avis demandé sur le dossier « %(title)s » n'a pas été rendu avant le %(due_at)s.")),
            Line(_("Avis demandé à : %(authority)s.")),
            Line(_("La demande est close : le dossier poursuit son instruction sans cet avis.")),
        ),
    ),
    # --- a joint fund's partner government (grants.variants) ---------------------------
    Message(
        "partner_validation_requested",
        Category.OPINIONS,
        _("Projet à valider : dossier %(reference)s (%(place)s)"),
        (
            Line(
                _(
                    "Le projet « %(title)s » déposé par %(organisation)s au fonds conjoint (appel %(call)s) attend "
                    "la validation de votre gouvernement."
                )
            ),
            Line(_("Merci de rendre votre validation avant le %(due_at)s.")),
            Line(_("Sans votre validation, le projet ne peut pas être présenté au comité de sélection.")),
        ),
    ),
    Message(
        "partner_validation_expired",
        Category.OPINIONS,
        _("Validation non rendue : dossier %(reference)s (%(place)s)"),
        (
            Line(_("La validation du projet « %(title)s » n'a pas été rendue avant le %(due_at)s.")),
            Line(_("Le projet attend : la délégation peut relancer la demande de validation.")),
        ),
    ),
    # --- reviews ----------------------------------------------------------------------
    Message(
        "review_assigned",
        Category.REVIEWS,
        _("Évaluation demandée : dossier %(reference)s"),
        (
            Line(_("Vous êtes désigné pour évaluer le dossier « %(title)s » (appel %(call)s).")),
            Line(_("En cas de conflit d'intérêts, déclinez l'évaluation depuis votre espace.")),
        ),
    ),
    # --- committee and decisions ------------------------------------------------------
    Message(
        "scheduled",
        Category.COMMITTEE,
        _("Dossier %(reference)s inscrit en comité du %(session_date)s"),
        (Line(_("Le dossier « %(title)s » est inscrit au comité de sélection du %(session_date)s.")),),
    ),
    Message(
        "consensus_recorded",
        Category.COMMITTEE,
        _("Consensus enregistré : dossier %(reference)s"),
        (
            Line(_("Le consensus des évaluations du dossier « %(title)s » est enregistré.")),
            Line(_("Le dossier peut être inscrit en comité ; le consensus reste modifiable jusqu'à la décision.")),
        ),
    ),
    Message(
        "deferred",
        Category.COMMITTEE,
        _("Dossier %(reference)s ajourné"),
        (Line(_("Le comité a ajourné le dossier « %(title)s » : il revient en évaluation.")),),
    ),
    Message(
        "decision_to_sign",
        Category.COMMITTEE,
        _("Décision à signer : dossier %(reference)s"),
        (Line(_("La décision (%(outcome)s) sur le dossier « %(title)s » attend votre signature.")),),
    ),
    Message(
        "decision_signed",
        Category.COMMITTEE,
        _("Décision signée : dossier %(reference)s"),
        (
            Line(_("La décision (%(outcome)s) sur le dossier « %(title)s » a été signée.")),
            Line(_("La lettre de notification est en cours d'émission.")),
        ),
    ),
    Message(
        "decision_delivered_finance",
        Category.COMMITTEE,
        _("Décision notifiée : dossier %(reference)s"),
        (
            Line(_("La décision (%(outcome)s) sur le dossier « %(title)s » de %(organisation)s a été notifiée.")),
            Line(_("Montant attribué : %(amount)s."), when="approved"),
            Line(_("La lettre de notification signée est jointe à ce courriel."), when="document"),
        ),
    ),
    Message(
        "decision_recorded",
        Category.COMMITTEE,
        _("Engagement enregistré : dossier %(reference)s"),
        (Line(_("L'engagement n° %(commitment_number)s du dossier « %(title)s » a été enregistré.")),),
    ),
    # --- reminders (the sweep) ----------------------------------------------------------
    Message(
        "task_reminder",
        Category.REMINDERS,
        _("Rappel : %(task)s avant le %(due_at)s — dossier %(reference)s"),
        (
            Line(_("Rappel : %(task)s — dossier « %(title)s ».")),
            Line(_("Échéance : %(due_at)s.")),
        ),
    ),
    Message(
        "task_due_today",
        Category.REMINDERS,
        _("Échéance aujourd'hui : %(task)s — dossier %(reference)s"),
        (
            Line(_("Dernier rappel : %(task)s — dossier « %(title)s ».")),
            Line(_("Échéance : %(due_at)s.")),
        ),
    ),
    Message(
        "task_overdue",
        Category.REMINDERS,
        _("En retard : %(task)s — dossier %(reference)s"),
        (
            Line(_("%(task)s — dossier « %(title)s » : l'échéance du %(due_at)s est dépassée.")),
            Line(_("Le retard a été signalé aux responsables de la file."), when="escalated"),
        ),
    ),
    Message(
        "task_escalated",
        Category.REMINDERS,
        _("Retard signalé : %(task)s — dossier %(reference)s"),
        (
            Line(_("%(task)s — dossier « %(title)s » : l'échéance du %(due_at)s est dépassée.")),
            Line(_("File concernée : %(queue)s.")),
            Line(_("Vous recevez ce signalement en tant que responsable de cette file.")),
        ),
    ),
]

# The call editor (issue 15): a published call's closing date put off.
_MESSAGES.append(
    Message(
        "call_extended",
        Category.STATUS,
        _("Appel %(call)s : date de clôture reportée"),
        (
            Line(_("La date de clôture de l'appel à projets %(call)s est reportée au %(closes_at)s.")),
            Line(
                _("Votre dossier « %(title)s » est encore un brouillon : vous avez jusqu'à cette date pour le déposer.")
            ),
        ),
    )
)
# --- the grant's life after the commitment (grants.machines.postaward) ----------------
_MESSAGES += [
    Message(
        "payment_payable",
        Category.COMMITTEE,
        _("Versement à payer : dossier %(reference)s"),
        (
            Line(_("Le versement n° %(number)s (%(amount)s) du dossier « %(title)s » est à payer."), when="tranche"),
            Line(
                _("Un reversement de %(amount)s est à recouvrer sur le dossier « %(title)s » (titre de recettes)."),
                when="recovery",
            ),
            Line(quote="explanation"),
        ),
    ),
    Message(
        "recovery_issued",
        Category.LEGAL,
        _("Reversement demandé : dossier %(reference)s"),
        (
            Line(
                _("La délégation vous demande de reverser %(amount)s au titre du dossier « %(title)s »."),
            ),
            Line(quote="explanation"),
            Line(_("Un titre de recettes vous sera adressé par le service financier.")),
        ),
    ),
    Message(
        "payment_paid",
        Category.STATUS,
        _("Versement effectué : dossier %(reference)s"),
        (
            Line(
                _("Un versement de %(amount)s a été effectué le %(paid_on)s pour le dossier « %(title)s »."),
                when="tranche",
            ),
            Line(
                _("Votre reversement de %(amount)s pour le dossier « %(title)s » a été enregistré le %(paid_on)s."),
                when="recovery",
            ),
        ),
    ),
    Message(
        "report_submitted",
        Category.INSTRUCTION,
        _("Rapport à vérifier : dossier %(reference)s"),
        (
            Line(_("Le rapport intermédiaire n° %(number)s du dossier « %(title)s » a été déposé."), when="interim"),
            Line(_("Le rapport final du dossier « %(title)s » a été déposé."), when="final"),
        ),
    ),
    Message(
        "report_returned",
        Category.LEGAL,
        _("Rapport à reprendre : dossier %(reference)s"),
        (
            Line(
                _("La délégation vous renvoie le rapport intermédiaire n° %(number)s du dossier « %(title)s » :"),
                when="interim",
            ),
            Line(_("La délégation vous renvoie le rapport final du dossier « %(title)s » :"), when="final"),
            Line(quote="message"),
            Line(_("Déposez-le de nouveau avant le %(due_date)s.")),
        ),
    ),
    Message(
        "report_accepted",
        Category.STATUS,
        _("Rapport accepté : dossier %(reference)s"),
        (
            Line(_("Le rapport intermédiaire n° %(number)s du dossier « %(title)s » a été accepté."), when="interim"),
            Line(_("Le rapport final du dossier « %(title)s » a été accepté."), when="final"),
        ),
    ),
    Message(
        "amendment_requested",
        Category.INSTRUCTION,
        _("Avenant demandé : dossier %(reference)s"),
        (Line(_("%(organisation)s demande l'avenant n° %(number)s au dossier « %(title)s ».")), Line(quote="reason")),
    ),
    Message(
        "amendment_accepted",
        Category.LEGAL,
        _("Avenant accepté : dossier %(reference)s"),
        (Line(_("Votre demande d'avenant n° %(number)s au dossier « %(title)s » est acceptée.")),),
    ),
    Message(
        "amendment_refused",
        Category.LEGAL,
        _("Avenant refusé : dossier %(reference)s"),
        (
            Line(_("Votre demande d'avenant n° %(number)s au dossier « %(title)s » est refusée :")),
            Line(quote="reason"),
        ),
    ),
    Message(
        "decision_renounced",
        Category.COMMITTEE,
        _("Renonciation : dossier %(reference)s"),
        (
            Line(_("%(organisation)s renonce au projet « %(title)s » : les versements non effectués sont annulés.")),
            Line(quote="reason"),
        ),
    ),
    Message(
        "decision_closed",
        Category.STATUS,
        _("Subvention soldée : dossier %(reference)s"),
        (Line(_("La subvention du dossier « %(title)s » est soldée : son suivi est terminé.")),),
    ),
]

MESSAGES: dict[str, Message] = {m.code: m for m in _MESSAGES}

# Reminders about a legal deadline (the applicant's completion) cannot be muted either.
LEGAL_TASK_KINDS = frozenset({"complete_application", "submit_report"})

ROUTES: dict[str, tuple[Route, ...]] = {
    "submitted": (Route("receipt", APPLICANTS, True), Route("submitted_staff", INSTRUCTORS)),
    "resubmitted": (Route("resubmitted_receipt", APPLICANTS, True), Route("resubmitted_staff", INSTRUCTORS)),
    "completion_requested": (Route("completion_requested", APPLICANTS, True),),
    "ineligible": (Route("ineligible", APPLICANTS, True),),
    "eligible": (Route("eligible", APPLICANTS, True),),
    "opinion_requested": (Route("opinion_requested", AUTHORITY, True),),
    "opinion_given": (Route("opinion_given", INSTRUCTORS),),
    "opinion_expired": (Route("opinion_expired", AUTHORITY, True), Route("opinion_expired", INSTRUCTORS, True)),
    "partner_validation_requested": (Route("partner_validation_requested", AUTHORITY, True),),
    "partner_validation_expired": (
        Route("partner_validation_expired", AUTHORITY, True),
        Route("partner_validation_expired", INSTRUCTORS, True),
    ),
    "opinions_closed": (Route("opinions_closed", INSTRUCTORS),),
    "review_assigned": (Route("review_assigned", REVIEWER, True),),
    "review_submitted": (Route("review_submitted", INSTRUCTORS),),
    "review_declined": (Route("review_declined", INSTRUCTORS),),
    "review_conflict": (Route("review_conflict", INSTRUCTORS),),
    # The applicant sees its public status only: no message on scheduling or deferral.
    "scheduled": (Route("scheduled", INSTRUCTORS), Route("scheduled", SECRETARIES)),
    "deferred": (Route("deferred", INSTRUCTORS), Route("deferred", SECRETARIES)),
    "consensus_recorded": (Route("consensus_recorded", INSTRUCTORS), Route("consensus_recorded", SECRETARIES)),
    "decision_to_sign": (Route("decision_to_sign", SIGNATORIES),),
    # Signed is internal: the applicant hears of the decision at delivery only.
    "decision_signed": (Route("decision_signed", SECRETARIES),),
    "decision_delivered": (
        Route("decision_delivered_{outcome}", APPLICANTS, True),
        Route("decision_delivered_finance", FINANCE, True),
    ),
    "decision_recorded": (Route("decision_recorded", SECRETARIES),),
    "withdrawn": (Route("withdrawn", APPLICANTS, True), Route("withdrawn_staff", INSTRUCTORS, when="reference")),
    "reinstated": (Route("reinstated", APPLICANTS, True), Route("reinstated_staff", INSTRUCTORS)),
    "call_extended": (Route("call_extended", APPLICANTS, True),),
    # The grant's life after the commitment.
    "payment_payable": (
        Route("payment_payable", FINANCE, True),
        Route("recovery_issued", APPLICANTS, True, when="recovery"),
    ),
    "payment_paid": (Route("payment_paid", APPLICANTS, True),),
    "report_submitted": (Route("report_submitted", INSTRUCTORS),),
    "report_returned": (Route("report_returned", APPLICANTS, True),),
    "report_accepted": (Route("report_accepted", APPLICANTS, True),),
    "amendment_requested": (Route("amendment_requested", INSTRUCTORS),),
    "amendment_accepted": (Route("amendment_accepted", APPLICANTS, True),),
    "amendment_refused": (Route("amendment_refused", APPLICANTS, True),),
    "decision_renounced": (Route("decision_renounced", INSTRUCTORS), Route("decision_renounced", FINANCE)),
    "decision_closed": (Route("decision_closed", APPLICANTS, True), Route("decision_closed", FINANCE, True)),
}

# Noun phrases for a task kind (reminders, escalations).
TASK_PHRASES: dict[str, Promise] = {
    "check_eligibility": _("vérification de la recevabilité"),
    "complete_application": _("compléments à apporter au dossier"),
    "give_opinion": _("avis à rendre"),
    "review": _("évaluation à rendre"),
    "schedule_committee": _("inscription en comité"),
    "sign_decision": _("signature de la décision"),
    "record_commitment": _("enregistrement de l'engagement"),
    "validate_project": _("validation du projet par le gouvernement partenaire"),
    "pay_tranche": _("versement à payer"),
    "submit_report": _("rapport à déposer"),
    "check_report": _("rapport à vérifier"),
    "decide_amendment": _("avenant à examiner"),
}

ROLE_PHRASES: dict[str, Promise] = {
    "applicant": _("porteur de projet"),
    "instructor": _("instruction"),
    "embassy": _("poste diplomatique"),
    "prefecture": _("préfecture de région"),
    "partner": _("gouvernement partenaire"),
    "reviewer": _("évaluateur"),
    "secretary": _("secrétariat du comité"),
    "signatory": _("ordonnateur"),
    "finance": _("service financier"),
    "admin": _("administration"),
}

OUTCOME_PHRASES: dict[str, Promise] = {
    "approved": _("projet retenu"),
    "rejected": _("projet non retenu"),
}


def message_for(route: Route, params: dict[str, Any]) -> str:
    return route.message.format(outcome=params.get("outcome", "approved"))
