"""``{% call_answers app as rows %}``: the answers of an application to its call's own
questions (issue 15), as (question, answer read in the reader's language) pairs."""

from __future__ import annotations

from typing import Any

from django import template

from grants import answers

register = template.Library()


@register.simple_tag
def call_answers(application: Any) -> list[tuple[Any, str]]:
    return answers.rows(application)
