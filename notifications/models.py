"""Notifications: the outbox (one row per event and recipient, also the in-app centre),
per-user preferences, daily digests and the reminder steps of the deadline sweep."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflows.model_mixins import ChoiceLabels


class Category(models.TextChoices):
    """What a user can tune (``Preference``). ``legal`` notices carry a legal deadline
    (completion request, ineligibility, decision): they are always e-mailed at once."""

    LEGAL = "legal", _("Notifications officielles (délais légaux)")
    STATUS = "status", _("Suivi de mes dossiers")
    INSTRUCTION = "instruction", _("Instruction des dossiers")
    OPINIONS = "opinions", _("Demandes d'avis")
    REVIEWS = "reviews", _("Évaluations")
    COMMITTEE = "committee", _("Comité et décisions")
    REMINDERS = "reminders", _("Relances et retards")


LOCKED_CATEGORIES = frozenset({Category.LEGAL})


class Mode(models.TextChoices):
    IMMEDIATE = "immediate", _("Un courriel à chaque notification")
    DIGEST = "digest", _("Un récapitulatif quotidien")
    OFF = "off", _("Pas de courriel (notifications dans la plateforme uniquement)")


class NotificationSettings(ChoiceLabels, models.Model):
    """A user's language for e-mails and the hour of the daily digest (Europe/Paris)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="notification_settings"
    )
    language = models.CharField(_("langue des courriels"), max_length=8, choices=settings.LANGUAGES, default="fr")
    digest_hour = models.PositiveSmallIntegerField(
        _("heure du récapitulatif quotidien"), default=8, validators=[MaxValueValidator(23)]
    )

    class Meta:
        verbose_name = _("réglages de notification")
        verbose_name_plural = _("réglages de notification")
        constraints = [models.CheckConstraint(condition=Q(digest_hour__lte=23), name="notification_digest_hour")]

    def __str__(self) -> str:
        return f"{self.user} ({self.language}, {self.digest_hour} h)"


class Preference(ChoiceLabels, models.Model):
    """How a user receives one category by e-mail (no row: immediately)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(_("catégorie"), max_length=16, choices=Category.choices)
    mode = models.CharField(_("envoi"), max_length=10, choices=Mode.choices, default=Mode.IMMEDIATE)

    class Meta:
        verbose_name = _("préférence de notification")
        verbose_name_plural = _("préférences de notification")
        constraints = [
            models.UniqueConstraint(fields=["user", "category"], name="preference_one_per_category"),
            # A legal notice cannot be muted or delayed, whatever writes the row.
            models.CheckConstraint(
                condition=~Q(category="legal") | Q(mode="immediate"), name="preference_legal_immediate"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.category} → {self.mode}"


class Digest(models.Model):
    """The one daily digest e-mail of a user: unique per (user, local day)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    items = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("récapitulatif quotidien")
        verbose_name_plural = _("récapitulatifs quotidiens")
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="digest_one_per_day")]

    def __str__(self) -> str:
        return f"{self.user} {self.day}"


class Notification(ChoiceLabels, models.Model):
    """One event for one recipient: the in-app item and the e-mail outbox row at once.

    Written inside the transition's transaction (so it exists if and only if the
    transition committed); ``dedupe_key`` makes a replayed emit a no-op. The e-mail is
    sent after commit by a Celery task and, whatever was lost on the way (broker down,
    worker killed), by the relay; both lock the row and skip it once sent."""

    class EmailState(models.TextChoices):
        PENDING = "pending", _("À envoyer")
        DIGEST = "digest", _("En attente du récapitulatif")
        SENT = "sent", _("Envoyé")
        FAILED = "failed", _("Échec")
        SKIPPED = "skipped", _("Pas de courriel")

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(_("événement"), max_length=40)
    message = models.CharField(_("message"), max_length=40)
    category = models.CharField(_("catégorie"), max_length=16, choices=Category.choices)
    application = models.ForeignKey(
        "grants.Application", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    subject_type = models.CharField(max_length=40, blank=True)
    subject_id = models.CharField(max_length=40, blank=True)
    # The facts of the event, frozen when it happened; rendered in the reader's language.
    params = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(_("lu le"), null=True, blank=True)
    email_state = models.CharField(_("courriel"), max_length=10, choices=EmailState.choices, default=EmailState.PENDING)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(_("dernière erreur"), blank=True)
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)
    digest = models.ForeignKey(Digest, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            # The centre: a user's notifications, newest first.
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_recipient"),
            # The header badge: unread count of a user.
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"),
            # The relay: rows still to e-mail, oldest due first (SELECT … FOR UPDATE SKIP LOCKED).
            models.Index(
                fields=["next_attempt_at", "id"], condition=Q(email_state="pending"), name="notification_outbox_due"
            ),
            # The digest: rows waiting for a user's daily e-mail.
            models.Index(fields=["recipient", "id"], condition=Q(email_state="digest"), name="notification_digest"),
        ]

    def __str__(self) -> str:
        return f"{self.message} → {self.recipient}"


class Reminder(ChoiceLabels, models.Model):
    """One reminder step of the sweep, sent or skipped: unique per (task, step), or per
    (application, step) for the draft reminders before a call closes. The unique row is
    what makes a second sweep, a second beat or a retried task send nothing twice."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("Envoyée")
        SKIPPED = "skipped", _("Sautée (rattrapage)")

    task = models.ForeignKey("workflows.Task", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(
        "grants.Application", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    step = models.SmallIntegerField(_("étape (jours par rapport à l'échéance)"))
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    # On the latest row of a series: when its next step falls due (the sweep skips the
    # task until then), or ``final`` when the series is complete (skipped for good).
    next_at = models.DateTimeField(null=True, blank=True)
    final = models.BooleanField(default=False)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("relance")
        verbose_name_plural = _("relances")
        constraints = [
            models.UniqueConstraint(
                fields=["task", "step"], condition=Q(task__isnull=False), name="reminder_task_step"
            ),
            models.UniqueConstraint(
                fields=["application", "step"], condition=Q(task__isnull=True), name="reminder_draft_step"
            ),
            models.CheckConstraint(
                condition=Q(task__isnull=False) | Q(application__isnull=False), name="reminder_has_subject"
            ),
        ]
        # The sweep's anti-join (final, or next step not due yet) probes the unique
        # indexes above by task / application: at most a few rows each.

    def __str__(self) -> str:
        return f"{self.task_id or self.application_id} {self.step:+d} {self.outcome}"
