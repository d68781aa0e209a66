"""The reviewer's dashboard /evaluations/ reads its rows as values and renders them in
Python: what the reviewer reads is what the template's loop over model instances wrote
(compared here with that loop, kept as the reference), every text from the database
escaped, a constant number of queries (one for the countries of every section's rows)."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pytest
from django.db import connection
from django.db.models import Prefetch, prefetch_related_objects
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from grants import policy
from grants.models import Application, Country, Organisation, Region, Review, Role
from grants.scoring import review_average
from grants.web.staff.common import decorate, keyset_page, url_maker
from grants.web.staff.opinions import REVIEW_SECTION_SIZE, REVIEW_SECTIONS, _review_due
from tests.factories import World
from workflows.models import Task, TaskKind

S = Application.State
_numbers = itertools.count(1)

#: The template's loop before the rows were rendered in Python, word for word.
REFERENCE_ROWS = Template(
    """{% load i18n french_format %}{% for review in rows %}
        <tr id="review-{{ review.pk }}" class="{% if review.overdue %}staff-overdue{% endif %}">
          <td class="staff-nowrap">{{ review.assigned_at|date:"d/m/Y" }}</td>
          <td class="staff-nowrap">{% if review.due_at %}{{ review.due_at|date:"d/m/Y" }}{% if review.overdue %} <span class="fr-badge fr-badge--sm fr-badge--error">{% translate "En retard" %}</span>{% endif %}{% else %}—{% endif %}</td>
          <td><a class="fr-link" href="{{ review.url }}"><strong>{{ review.application.reference }}</strong></a><br>{{ review.application.title }}<br><span class="staff-muted">{{ review.application.organisation.name }} · {{ review.application.call.code }}</span></td>
          <td>{% for country in review.application.countries.all %}{{ country.name }}{% if not forloop.last %}, {% endif %}{% endfor %}</td>
          <td>{% if review.state == "submitted" %}{{ review.average|decimal_fr:1 }}/5 — {{ review.get_recommendation_display }}{% elif review.state == "assigned" %}<a class="fr-btn fr-btn--sm" href="{{ review.url }}">{% if review.declared_at %}{% translate "Évaluer" %}{% else %}{% translate "Déclarer" %}{% endif %}</a>{% else %}{{ review.decline_reason|truncatechars:80|default:"—" }}{% endif %}</td>
        </tr>
      {% endfor %}"""
)


def reference_rows(user: Any, key: str, cursor: str | None = None) -> str:
    """A section's rows as the page wrote them from model instances (the previous code)."""
    now = timezone.now()
    condition, keys = next((c, k) for name, c, k in REVIEW_SECTIONS if name == key)
    qs = (
        policy.visible_reviews(user)
        .filter(reviewer_id=user.pk)
        .filter(condition)
        .annotate(due_at=_review_due())
        .select_related("application", "application__call", "application__organisation")
    )
    page = keyset_page(qs, keys, cursor, REVIEW_SECTION_SIZE)
    prefetch_related_objects(page.rows, Prefetch("application__countries", queryset=Country.objects.order_by("iso2")))
    for review in page.rows:
        decorate(
            review,
            overdue=review.state == Review.State.ASSIGNED and review.due_at is not None and review.due_at < now,
            average=review_average(review, review.application.call.scoring_criteria),
            url=url_maker("review")(review.pk),
        )
    return REFERENCE_ROWS.render(Context({"rows": page.rows}))


def page_rows(html: str, key: str) -> str | None:
    """The rows of a section of the page (None: the section shows no table)."""
    section = re.search(rf'<section id="section-{key}".*?</section>', html, re.S)
    assert section is not None
    rows = re.search(r"<tbody>\n      (.*?)\n      </tbody>", section.group(0), re.S)
    return rows.group(1) if rows else None


def make_reviews(world: World, n: int, state: str, *, reviewer: Any = None, **review: Any) -> list[Review]:
    """``n`` applications under review, each with one review of ``reviewer`` in ``state``."""
    reviewer = reviewer or world.reviewer1
    organisation, title = review.pop("organisation", world.lyon), review.pop("title", None)
    countries, due = review.pop("countries", ("SN",)), review.pop("due", "none")
    apps = []
    for _ in range(n):
        number = next(_numbers)
        apps.append(
            Application(
                call=world.call,
                organisation=organisation,
                state=S.UNDER_REVIEW,
                reference=f"{world.call.code}-R{number:05d}",
                reference_number=200000 + number,
                title=title or f"Projet {number}",
                summary="Résumé.",
                requested_amount=Decimal("25000.00"),
                submitted_at=timezone.now(),
            )
        )
    Application.objects.bulk_create(apps)
    through = Application.countries.through
    through.objects.bulk_create([through(application_id=a.pk, country_id=c) for a in apps for c in countries])
    reviews = Review.objects.bulk_create(
        [Review(application=a, reviewer=reviewer, state=state, **review) for a in apps]
    )
    if due != "none":
        Task.objects.bulk_create(
            [
                Task(
                    kind=TaskKind.REVIEW,
                    application=r.application,
                    queue_role=Role.REVIEWER,
                    assignee=reviewer,
                    subject_type="grants.review",
                    subject_id=str(r.pk),
                    due_at=timezone.now() + dt.timedelta(days=-3 if due == "past" else 12),
                )
                for r in reviews
            ]
        )
    return reviews


@pytest.fixture
def dashboard(world: World) -> World:
    """Every kind of row: overdue or not, without a due date, declared or not, scored
    (weighted grid), declined with a long reason or none, texts that need escaping, two
    countries (ISO order: Maroc before Sénégal), an organisation whose name holds markup."""
    world.call.scoring_criteria = [
        {"code": "impact", "label": "Impact", "weight": 3},
        {"code": "budget", "label": "Budget", "weight": 1},
    ]
    world.call.save()
    tricky = Organisation.objects.create(
        name='Ville d\'Évry & "Co" <b>',
        siren="219102280",
        kind=Organisation.Kind.FRENCH,
        region=Region.objects.get(code="11"),
        country=Country.objects.get(iso2="FR"),
    )
    title = "<script>alert('x')</script> l'eau & \"vous\""
    make_reviews(world, 2, Review.State.ASSIGNED, due="past", title=title, organisation=tricky, countries=("SN", "MA"))
    make_reviews(world, 1, Review.State.ASSIGNED, due="future")
    make_reviews(world, 1, Review.State.ASSIGNED)
    declared = timezone.now() - dt.timedelta(days=1)
    make_reviews(world, 2, Review.State.ASSIGNED, due="past", declared_at=declared)
    make_reviews(world, 1, Review.State.ASSIGNED, declared_at=declared)
    make_reviews(
        world, 1, Review.State.SUBMITTED, due="past", scores={"impact": 4, "budget": 1}, recommendation="maybe"
    )
    make_reviews(world, 1, Review.State.SUBMITTED, scores={"impact": 5, "budget": 5}, recommendation="yes")
    make_reviews(world, 1, Review.State.SUBMITTED, scores={}, recommendation="")
    make_reviews(world, 1, Review.State.DECLINED, decline_reason="Conflit <b>d'intérêts</b> & " + "très long " * 12)
    make_reviews(world, 1, Review.State.DECLINED, decline_reason="", title=title)
    make_reviews(world, 1, Review.State.SUBMITTED, reviewer=world.reviewer2, scores={}, recommendation="no")
    return world


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_section_s_rows_are_what_the_template_wrote(dashboard: World, client, language: str) -> None:
    client.force_login(dashboard.reviewer1)
    html = client.get(reverse("reviews"), HTTP_ACCEPT_LANGUAGE=language).content.decode()
    with translation.override(language):
        for key, _condition, _keys in REVIEW_SECTIONS:
            assert page_rows(html, key) == reference_rows(dashboard.reviewer1, key), key


def test_the_rows_say_what_the_reviewer_needs(dashboard: World, client) -> None:
    client.force_login(dashboard.reviewer1)
    html = client.get(reverse("reviews")).content.decode()
    declare, progress = page_rows(html, "declare") or "", page_rows(html, "progress") or ""
    submitted, declined = page_rows(html, "submitted") or "", page_rows(html, "declined") or ""
    # Texts from the database never become markup.
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; l&#x27;eau &amp; &quot;vous&quot;" in declare
    assert "Ville d&#x27;Évry &amp; &quot;Co&quot; &lt;b&gt;" in declare
    assert "<td>Maroc, Sénégal</td>" in declare
    # Overdue open reviews are flagged; a review without a task has no due date.
    assert declare.count('class="staff-overdue"') == 2 and progress.count('class="staff-overdue"') == 2
    assert '<td class="staff-nowrap">—</td>' in declare and '<td class="staff-nowrap">—</td>' in progress
    assert declare.count(">Déclarer</a>") == 4 and progress.count(">Évaluer</a>") == 3
    # A closed review is never overdue, even past its task's due date; its score is the
    # grid's weighted mean (4×3 + 1×1) / 4 = 3,25 → 3,3.
    assert "staff-overdue" not in submitted and "En retard" not in submitted
    assert "3,3/5 — Réservé" in submitted and "5/5 — Favorable" in submitted and "—/5 — </td>" in submitted
    assert "Conflit &lt;b&gt;d&#x27;intérêts&lt;/b&gt; &amp; très long" in declined and "…</td>" in declined
    assert "<td>—</td>" in declined
    # Only the reviewer's own reviews.
    assert html.count('<tr id="review-') == 12
    # The overdue count: the open reviews past their task's due date, never a closed one.
    assert "<p>4 évaluations en retard.</p>" in html
    assert 'href="#section-declare">À déclarer : absence de conflit d&#x27;intérêts (4)</a>' in html
    assert 'href="#section-submitted">Rendues (3)</a>' in html and 'href="#section-declined">Déclinées (2)</a>' in html


def test_english_readers_get_english_country_names_and_labels(dashboard: World, client) -> None:
    client.force_login(dashboard.reviewer1)
    html = client.get(reverse("reviews"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<td>Morocco, Senegal</td>" in html
    assert "Sénégal" not in html


def test_a_section_s_next_page_matches_the_template_and_leaves_the_others_on_their_first(world: World, client) -> None:
    make_reviews(world, REVIEW_SECTION_SIZE + 5, Review.State.DECLINED, decline_reason="Conflit")
    make_reviews(world, REVIEW_SECTION_SIZE + 3, Review.State.ASSIGNED, due="future")
    client.force_login(world.reviewer1)
    first = client.get(reverse("reviews")).content.decode()
    cursor = re.search(r'href="\?section=declined&amp;cursor=([^"]+)"', first)
    assert cursor is not None
    second = client.get(reverse("reviews") + f"?section=declined&cursor={cursor.group(1)}").content.decode()
    declined = page_rows(second, "declined") or ""
    assert declined.count('<tr id="review-') == 5
    # The other sections stay on their first page.
    assert page_rows(second, "declare") == page_rows(first, "declare")
    assert (page_rows(first, "declare") or "").count('<tr id="review-') == REVIEW_SECTION_SIZE
    assert declined == reference_rows(world.reviewer1, "declined", unquote(cursor.group(1)))


def test_a_reviewer_without_reviews_sees_the_empty_page(world: World, client) -> None:
    client.force_login(world.reviewer2)
    response = client.get(reverse("reviews"))
    assert response.status_code == 200
    assert "Aucun dossier à évaluer pour le moment." in response.content.decode()
    assert '<tr id="review-' not in response.content.decode()


def test_an_empty_section_says_so_next_to_the_others_rows(world: World, client) -> None:
    make_reviews(world, 2, Review.State.SUBMITTED, scores={}, recommendation="yes")
    client.force_login(world.reviewer1)
    html = client.get(reverse("reviews")).content.decode()
    assert page_rows(html, "declined") is None and page_rows(html, "declare") is None
    assert html.count("Aucune évaluation.") == 3
    assert (page_rows(html, "submitted") or "").count('<tr id="review-') == 2


def _queries(client, url: str) -> list[str]:
    client.get(url)  # warm up (session, caches)
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in context.captured_queries]


def test_the_dashboard_reads_the_countries_of_every_section_in_one_query(world: World, client) -> None:
    client.force_login(world.reviewer1)

    def grow(n: int) -> None:
        make_reviews(world, n, Review.State.ASSIGNED, due="past", countries=("SN", "MA"))
        make_reviews(world, n, Review.State.ASSIGNED, declared_at=timezone.now())
        make_reviews(world, n, Review.State.SUBMITTED, scores={"sdg": 3}, recommendation="yes")
        make_reviews(world, n, Review.State.DECLINED, decline_reason="Conflit")

    grow(3)
    at_3 = _queries(client, reverse("reviews"))
    grow(40)
    at_43 = _queries(client, reverse("reviews"))
    assert len(at_3) == len(at_43)
    assert sum("grants_application_countries" in sql for sql in at_43) == 1
    # One keyset query per section (its keys, no join), the shown rows of every section in
    # one more, none per row; the sections' counts and the overdue count in one more.
    assert sum('FROM "grants_review"' in sql for sql in at_43) == 6
