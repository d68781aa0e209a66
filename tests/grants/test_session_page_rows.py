"""The session page's rows written in Python (agenda, ranking, candidates): what was read
from the database is escaped, an unbound row's controls are the form's, and the ranking's
tie on the submission compares instants (not Paris wall-clock times)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.urls import reverse

from grants import evaluation
from grants.models import Application
from grants.templatetags.french_format import decimal_fr
from grants.web.staff import committee
from grants.web.staff.forms import OutcomeRowForm
from tests.factories import World
from tests.grants.test_staff_performance import bulk_applications

S = Application.State
RANK = re.compile(r'<tr id="rank-([0-9a-f-]{36})"')
HOSTILE = "<script>alert(\"x\")</script> & 'co'"


def test_what_the_rows_show_from_the_database_is_escaped(world: World, client) -> None:
    pending = bulk_applications(world, 1, S.IN_COMMITTEE, session=world.session)[0]
    candidate = bulk_applications(world, 1, S.UNDER_REVIEW)[0]
    Application.objects.filter(pk__in=[pending.pk, candidate.pk]).update(title=HOSTILE)
    world.lyon.name = HOSTILE
    world.lyon.save(update_fields=["name"])
    client.force_login(world.secretary)
    html = client.get(reverse("session", args=[world.session.pk])).content.decode()
    assert "<script>" not in html
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;co&#x27;"
    agenda = html.split('<table class="staff-agenda">', 1)[1].split("</table>", 1)[0]
    ranking = html.split('id="ranking"', 1)[1].split("</section>", 1)[0]
    candidates = html.split('id="schedule-form"', 1)[1].split("</table>", 1)[0]
    assert agenda.count(escaped) == 2  # the title and the authority
    assert ranking.count(escaped) == 1  # the title
    assert candidates.count(escaped) == 2


def test_an_unbound_row_s_controls_are_its_form_s() -> None:
    labels = committee._control_labels()
    prefix = "7e57ab1e-0000-4000-8000-00000000c0de"
    amount = decimal_fr(Decimal("25000.00"))
    form = OutcomeRowForm(prefix=prefix, initial={"amount": amount})
    written = committee._controls_html(prefix, None, amount, None, labels)
    assert written == committee._outcome_controls(form, labels)
    assert str(form["amount"]) in written and str(form["text"]) in written  # Django's own widgets


def test_the_page_s_controls_match_the_form_path_for_a_posted_row(world: World, client) -> None:
    app = bulk_applications(world, 1, S.IN_COMMITTEE, session=world.session)[0]
    client.force_login(world.secretary)
    url = reverse("session", args=[world.session.pk])
    shown = client.get(url).content.decode()
    # Nothing chosen: the page shows the row again as posted (the form's values), and
    # the controls are the ones the GET wrote from the values.
    amount = decimal_fr(app.requested_amount)  # as the form offers it
    posted = client.post(reverse("session-outcomes", args=[world.session.pk]), {f"{app.pk}-amount": amount})
    assert posted.status_code == 400
    cell = re.compile(r'<td class="staff-decision-cell">.*?</td>', re.S)
    assert cell.findall(shown) == cell.findall(posted.content.decode())


def test_equal_requests_rank_by_the_submission_instant_across_the_autumn_clock_change(world: World, client) -> None:
    # 00:30 and 01:30 UTC on 25 October 2026 are both 02:30 in Paris: ranked by local
    # time they would tie and fall to the reference, which says the opposite.
    first, second, third = bulk_applications(world, 3, S.IN_COMMITTEE, session=world.session)
    at = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)
    for app, reference, submitted in (
        (first, "Z-3", at),
        (second, "Z-2", at + dt.timedelta(hours=1)),
        (third, "Z-1", at + dt.timedelta(hours=1, microseconds=1)),
    ):
        Application.objects.filter(pk=app.pk).update(reference=reference, submitted_at=submitted)
    expected = [str(first.pk), str(second.pk), str(third.pk)]
    assert [row.application for row in evaluation.session_ranking(world.session).rows] == expected
    client.force_login(world.secretary)
    html = client.get(reverse("session", args=[world.session.pk])).content.decode()
    assert RANK.findall(html) == expected
