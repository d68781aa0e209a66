"""Two per-row costs of Django and django-fsm-2 paid once per model instead.

``ChoiceLabels``: Django's ``Model._get_FIELD_display`` builds
``dict(make_hashable(field.flatchoices))`` on every call, and hashing each
``(value, lazy label)`` pair translates every label: a list of 50 tasks showing their kind
translated 600 labels for 50 shown (a fifth of the inbox's rendering in the profile). Here
the value → label map is built once per field (the labels stay lazy: the reader's language
still applies) and one label is translated per call.

``StateFieldsOnce``: django-fsm-2's ``ConcurrentTransitionMixin`` finds the state fields by
filtering every field of the model at each instance's creation (sixty fields for an
application, for each of the rows of a list). Here the filter runs once per model class.
"""

from __future__ import annotations

from typing import Any

from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django_fsm import FSMFieldMixin


class ChoiceLabels:
    """A mixin for models (before ``models.Model`` in the bases): the same result as
    Django's ``get_FOO_display()``, the value itself when it is not a choice."""

    def _get_FIELD_display(self, field: Any) -> Any:
        labels = field.__dict__.get("_choice_labels")
        if labels is None:
            labels = {make_hashable(value): label for value, label in field.flatchoices}
            field.__dict__["_choice_labels"] = labels
        value = getattr(self, field.attname)
        return force_str(labels.get(make_hashable(value), value), strings_only=True)


class StateFieldsOnce:
    """A mixin for models, before ``ConcurrentTransitionMixin`` in the bases: the same
    state fields, found once per model class."""

    @property
    def state_fields(self) -> tuple[Any, ...]:
        cls = type(self)
        fields: tuple[Any, ...] | None = cls.__dict__.get("_state_fields_once")
        if fields is None:
            fields = tuple(f for f in self._meta.fields if isinstance(f, FSMFieldMixin))  # type: ignore[attr-defined]
            cls._state_fields_once = fields  # type: ignore[attr-defined]
        return fields
