"""Daily digests: one e-mail per user and day listing every notification kept for it.

Checked hourly by beat (``notifications.digests``). A user's digest lists what arrived
before its hour today (default 8:00 Europe/Paris); it goes out at the first check at or
after that hour (so a missed check is caught up), and what arrives later waits for
tomorrow's. The row ``Digest`` is unique per (user, local day), written in the
transaction that marks the items, so two checks at once or a retried task never send
two digests the same day.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications import outbox, rendering
from notifications.models import Digest, Notification, NotificationSettings

log = logging.getLogger(__name__)
E = Notification.EmailState
DEFAULT_HOUR = 8


def send_digests(*, now: dt.datetime | None = None) -> int:
    """Send the digests due at ``now``; returns the number of digest e-mails sent."""
    now = now or timezone.now()
    local = now.astimezone(rendering.PARIS)
    today = local.date()
    waiting = sorted(set(Notification.objects.filter(email_state=E.DIGEST).values_list("recipient_id", flat=True)))
    if not waiting:
        return 0
    hours = dict(NotificationSettings.objects.filter(user_id__in=waiting).values_list("user_id", "digest_hour"))
    already = set(Digest.objects.filter(user_id__in=waiting, day=today).values_list("user_id", flat=True))
    sent = 0
    for user_id in waiting:
        hour = hours.get(user_id, DEFAULT_HOUR)
        if user_id in already or local.hour < hour:
            continue
        cutoff = dt.datetime.combine(today, dt.time(hour), tzinfo=rendering.PARIS)
        try:
            if _send_one(user_id, today, now, cutoff):
                sent += 1
        except outbox.TRANSIENT_ERRORS as exc:
            # Nothing was marked (the transaction rolled back): the next check retries.
            log.warning("digests: user %s not sent this time: %s", user_id, exc)
    return sent


def _send_one(user_id: int, today: dt.date, now: dt.datetime, cutoff: dt.datetime) -> bool:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    with transaction.atomic():
        items = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(recipient_id=user_id, email_state=E.DIGEST, created_at__lt=cutoff)
            .order_by("created_at", "id")
        )
        if not items:
            return False
        if user is None or not user.email:
            Notification.objects.filter(pk__in=[n.pk for n in items]).update(email_state=E.SKIPPED)
            return False
        try:
            with transaction.atomic():
                digest = Digest.objects.create(user_id=user_id, day=today, items=len(items), sent_at=now)
        except IntegrityError:
            return False  # another check sent today's digest
        rendered = rendering.render_digest(
            ((n.message, n.params, outbox.open_url(n)) for n in items), language=outbox.language_of(user_id)
        )
        email = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[user.email],
            headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
        )
        email.attach_alternative(rendered.html, "text/html")
        email.send(fail_silently=False)
        Notification.objects.filter(pk__in=[n.pk for n in items]).update(
            email_state=E.SENT, sent_at=now, digest=digest, attempts=1
        )
    return True
