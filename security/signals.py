"""A new password ends every API token of the account and clears its sign-in lockouts.

Django marks a real password change by ``user._password`` (set by ``set_password``, which
the reset form, the change form, the admin and ``createsuperuser`` call; a hash upgrade
at sign-in leaves it unset), still there when ``post_save`` fires.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="security.password_changed")
def password_changed(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created or getattr(instance, "_password", None) is None:
        return
    from axes.models import AccessAttempt
    from knox.models import AuthToken

    from .lockout import normalise_username

    AuthToken.objects.filter(user=instance).delete()
    AccessAttempt.objects.filter(username=normalise_username(instance.get_username())).delete()
