"""The per-row costs paid once per model: the same labels and state fields as Django's
and django-fsm-2's own, in the reader's language."""

from __future__ import annotations

from django.db import models
from django.utils import translation

from grants.models import Application
from workflows.models import Task, TaskKind


def _django_display(instance: models.Model, name: str) -> object:
    """What Django's own ``Model._get_FIELD_display`` answers."""
    return models.Model._get_FIELD_display(instance, instance._meta.get_field(name))


def test_a_choice_s_label_is_django_s_in_each_language_and_an_unknown_value_is_itself() -> None:
    task = Task(kind=TaskKind.CHECK_ELIGIBILITY)
    with translation.override("fr"):
        assert task.get_kind_display() == "Vérifier la recevabilité" == _django_display(task, "kind")
    with translation.override("en"):
        assert task.get_kind_display() == "Check admissibility" == _django_display(task, "kind")
    task.kind = "not_a_kind"
    assert task.get_kind_display() == "not_a_kind" == _django_display(task, "kind")


def test_every_choice_of_every_state_field_matches_django_s_display() -> None:
    for code, _label in Application.State.choices:
        app = Application(state=code)  # a protected state field: set once, at creation
        for language in ("fr", "en"):
            with translation.override(language):
                assert app.get_state_display() == _django_display(app, "state")


def test_the_state_fields_found_once_are_django_fsm_s() -> None:
    from django_fsm import FSMFieldMixin

    expected = [f for f in Application._meta.fields if isinstance(f, FSMFieldMixin)]
    assert list(Application().state_fields) == expected == [Application._meta.get_field("state")]
