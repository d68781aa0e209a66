"""The staff application page writes three hot fragments in Python: the reviewers' table
beside the assignment form, the history's rows and the score table's cells. What the
instructor reads is what the template's loops wrote (kept here word for word as the
reference), every text escaped, in French and in English."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from grants.evaluation import Candidate, Candidates
from grants.policy.history import Entry
from grants.scoring import CriterionSummary
from grants.web.staff.views import _candidate_rows, _history_rows, _score_rows

HOSTILE = "<script>alert('x')</script> & \"Ç'a\""

REFERENCE_CANDIDATES = Template(
    """{% load i18n %}{% for c in candidates.reviewers %}
                  <tr id="candidate-{{ c.username }}">
                    <th scope="row">{{ c.name }} <span class="fr-hint-text">{{ c.username }}</span></th>
                    <td>{{ c.open_reviews }}</td>
                    <td>{% if c.next_due_at %}{{ c.next_due_at|date:"SHORT_DATE_FORMAT" }}{% else %}—{% endif %}</td>
                    <td>{% if c.overdue %}<span class="fr-badge fr-badge--error fr-badge--sm">{{ c.overdue }}</span>{% else %}0{% endif %}</td>
                    <td>{% if c.conflicts %}{% for label in c.conflict_labels %}<span class="fr-badge fr-badge--warning fr-badge--sm">{{ label }}</span>{% if not forloop.last %} {% endif %}{% endfor %}{% else %}{% translate "aucun" %}{% endif %}</td>
                  </tr>
                {% endfor %}"""
)

REFERENCE_HISTORY = Template(
    """{% load i18n %}{% for entry in history %}
            <tr>
              <td class="staff-nowrap">{{ entry.at|date:"d/m/Y H:i" }}</td>
              <td>{{ entry.label }}{% if entry.is_application and entry.source and entry.target %}<br><span class="staff-muted fr-text--sm">{{ entry.source_label }} → {{ entry.target_label }}</span>{% endif %}</td>
              <td>{% if entry.by %}{{ entry.by }}{% else %}{% translate "Système" %}{% endif %}<br><span class="staff-muted fr-text--sm">{{ entry.role_label }}</span></td>
              <td class="staff-pre" lang="fr">{{ entry.comment|default:"" }}</td>
            </tr>
            {% endfor %}"""
)

REFERENCE_SCORES = Template(
    """{% for criterion in scores.criteria %}[{% for review in reviews %}<td>{% for code, score in review.scores.items %}{% if code == criterion.code %}{{ score }}/5{% endif %}{% endfor %}</td>{% endfor %}]{% endfor %}"""
)


def _candidates() -> Candidates:
    # 23:30 UTC: another day in Paris, so the time zone matters.
    due = dt.datetime(2026, 3, 4, 23, 30, tzinfo=dt.UTC)
    return Candidates(
        reviewers=[
            Candidate(user_id=1, username="ana", name=HOSTILE, open_reviews=1234, next_due_at=due, overdue=3),
            Candidate(user_id=2, username="b<o>b", name="Bob", conflicts=["declared", "organisation", "region"]),
            Candidate(user_id=3, username="cy", name="Cy", open_reviews=0, conflicts=["region"]),
        ],
        submitted=1,
        min_reviews=2,
        in_progress=0,
    )


def _entries() -> list[Entry]:
    at = dt.datetime(2026, 1, 31, 23, 5, tzinfo=dt.UTC)
    return [
        Entry(at, "application", "submit", "draft", "submitted", HOSTILE, HOSTILE, "applicant", HOSTILE),
        Entry(at, "application", "create", "", "draft", "Créé", None, "system", ""),
        Entry(at, "review", "assign", "assigned", "submitted", "Assigné", "Inès", "instructor", "ok"),
        Entry(at, "application", "approve", "in_committee", "unknown-state", "Approuvé", "Zoé", "unknown-role", ""),
    ]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_reviewers_rows_are_the_template_s(language: str) -> None:
    candidates = _candidates()
    with translation.override(language), timezone.override("Europe/Paris"):
        expected = REFERENCE_CANDIDATES.render(Context({"candidates": candidates}))
        assert _candidate_rows(candidates) == expected
    assert "<script>" not in expected and "&lt;script&gt;" in expected


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_history_rows_are_the_template_s(language: str) -> None:
    entries = _entries()
    with translation.override(language), timezone.override("Europe/Paris"):
        expected = REFERENCE_HISTORY.render(Context({"history": entries}))
        assert _history_rows(entries) == expected
    assert "<script>" not in expected and "01/02/2026 00:05" in expected


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_score_cells_are_the_template_s(language: str) -> None:
    criteria = [CriterionSummary(code, code, 1, Decimal("3.5"), []) for code in ("impact", "budget", "<x>")]
    reviews: list[Any] = [
        SimpleNamespace(scores={"impact": 4, "budget": 2}),
        SimpleNamespace(scores={"impact": 5, "<x>": 1.5, "other": 3}),
        SimpleNamespace(scores={}),
        SimpleNamespace(scores=None),
    ]
    scores = SimpleNamespace(criteria=criteria)
    with translation.override(language):
        expected = REFERENCE_SCORES.render(Context({"scores": scores, "reviews": reviews}))
        written = "".join(f"[{cells}]" for _criterion, cells in _score_rows(scores, reviews))
    assert written == expected
