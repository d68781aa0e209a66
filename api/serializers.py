"""Request and response bodies of the API.

Input serializers check only the *shape* of a body (types, lengths, no NUL character);
every business rule stays in the domain (``grants.writes.drafts``, ``grants.services``), which
receives the caller's data as sent. Output serializers read the objects prepared by the
views (``api.selectors``) and add no query of their own.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from grants.machines.application import APPLICATION_TRANSITIONS
from grants.models import (
    Application,
    Attachment,
    AttachmentKind,
    BudgetLine,
    Call,
    CommitteeSession,
    Decision,
    Document,
    OpinionRequest,
    Review,
)
from grants.policy.history import SUBJECT_NAMES
from grants.questions import CallQuestion
from grants.scoring import criterion_label
from workflows.models import Task, TaskKind

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}
RATE: dict[str, Any] = {"max_digits": 5, "decimal_places": 4}

TRANSITION_NAMES = list(APPLICATION_TRANSITIONS)


def subject_name(subject_type: str) -> str:
    return SUBJECT_NAMES.get(subject_type, subject_type.rpartition(".")[2] or subject_type)


def _values(choices: Any) -> list[str]:
    return [c[0] if isinstance(c, tuple | list) else c for c in choices]


class EnumField(serializers.ChoiceField):
    """A choice field documented by a named enum component (see ``EnumFieldExtension``)."""

    component = ""


_ENUM_CLASSES: dict[str, type[EnumField]] = {}


def enum(choices: Any, name: str, **kwargs: Any) -> EnumField:
    """A choice field whose values are the enum component ``name`` of the OpenAPI document.

    drf-spectacular would otherwise name enums after the property ("state", "kind"), and
    with one state machine per object those names collide: its deploy check (run by
    ``manage.py check --deploy``) then fails on the warnings, whatever the view's own
    settings. Named here, a component is the same in both documents."""
    field_class = _ENUM_CLASSES.setdefault(name, type(f"{name}Field", (EnumField,), {"component": name}))
    return field_class(choices=choices, **kwargs)


class EnumFieldExtension(OpenApiSerializerFieldExtension):
    target_class = EnumField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        field: EnumField = self.target
        choices = list(field.choices.items())
        schema: dict[str, Any] = {"type": "string", "enum": [value for value, _label in choices]}
        described = [f"* `{value}` - {label}" for value, label in choices if str(label) != str(value)]
        if described:
            schema["description"] = "\n".join(described)
        # The component's identity is its name (not the field instance), so every field
        # of one enum shares it without a "different identities" warning.
        component = ResolvedComponent(
            name=field.component, type=ResolvedComponent.SCHEMA, schema=schema, object=field.component
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


def nullable_enum(name: str) -> dict[str, Any]:
    """The schema of a nullable value of the enum component ``name`` (declared by ``enum``)."""
    return {"allOf": [{"$ref": f"#/components/schemas/{name}"}], "nullable": True}


# --- inputs -----------------------------------------------------------------------------------


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.RegexField(
        r"^\d{6}$",
        required=False,
        help_text="The 6-digit code of the account's authenticator app, for an account with a second factor.",
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="Send it as `Authorization: Token <token>`. Shown once: only its hash is kept."
    )
    expiry = serializers.DateTimeField(help_text="When the token stops working (sign in again for a new one).")


class TokenInfoSerializer(serializers.Serializer):
    prefix = serializers.CharField(help_text="The token's first 8 characters, to tell tokens apart.")
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)
    current = serializers.BooleanField(help_text="The token this request was made with.")


class PartnerInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, allow_blank=True)
    country = serializers.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code.")


class BudgetLineInputSerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=1, max_value=10, help_text="Project year, 1 to 10.")
    category = enum(BudgetLine.Category.choices, "BudgetCategoryEnum")
    label = serializers.CharField(max_length=250, allow_blank=True)  # type: ignore[assignment]
    amount = serializers.DecimalField(**MONEY, min_value=0, help_text='Euros as a decimal string, e.g. "1250.50".')
    country = serializers.CharField(
        max_length=2,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Optional project country the line is spent in (weighted multi-country rule).",
    )


class FundingInputSerializer(serializers.Serializer):
    own_cash = serializers.DecimalField(**MONEY, min_value=0, required=False, help_text="French authorities' cash.")
    own_in_kind = serializers.DecimalField(
        **MONEY, min_value=0, required=False, help_text="French authorities' in-kind contribution (valorisation)."
    )
    partner = serializers.DecimalField(**MONEY, min_value=0, required=False, help_text="Foreign partners' share.")
    other = serializers.DecimalField(**MONEY, min_value=0, required=False, help_text="Other cofunders.")
    requested = serializers.DecimalField(
        **MONEY, min_value=0, required=False, help_text="Amount requested from the delegation."
    )


class BudgetInputSerializer(serializers.Serializer):
    lines = BudgetLineInputSerializer(many=True, required=False, max_length=500)  # type: ignore[call-arg]
    funding = FundingInputSerializer(required=False)


class MemberInputSerializer(serializers.Serializer):
    """A turnkey programme's member French authority (call kind `turnkey` only)."""

    name = serializers.CharField(max_length=200, allow_blank=True)
    siren = serializers.CharField(max_length=20, allow_blank=True, help_text="9 digits.")
    region = serializers.CharField(
        max_length=3, required=False, allow_blank=True, allow_null=True, help_text="INSEE region code, e.g. `84`."
    )
    contribution = serializers.DecimalField(
        **MONEY,
        min_value=0,
        required=False,
        help_text="Euros (decimal string): counted as the French authorities' own contribution.",
    )


class ApplicationUpdateSerializer(serializers.Serializer):
    """The writable fields of an application (PATCH: any subset). Read-only fields
    (`id`, `reference`, `state`, `history`, `decision`, …) are ignored."""

    title = serializers.CharField(max_length=250, required=False, allow_blank=True)
    summary = serializers.CharField(max_length=10000, required=False, allow_blank=True, allow_null=True)
    objectives = serializers.CharField(max_length=10000, required=False, allow_blank=True, allow_null=True)
    themes = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=50)
    sdg_targets = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=50)
    gender_marker = serializers.IntegerField(min_value=0, max_value=2, required=False)
    countries = serializers.ListField(
        child=serializers.CharField(max_length=2), required=False, max_length=50, help_text="ISO2 codes."
    )
    partners = PartnerInputSerializer(many=True, required=False, max_length=50)  # type: ignore[call-arg]
    start_date = serializers.DateField(required=False, allow_null=True)
    duration_months = serializers.IntegerField(min_value=1, max_value=120, required=False, allow_null=True)
    budget = BudgetInputSerializer(required=False)
    members = MemberInputSerializer(  # type: ignore[call-arg]
        many=True,
        required=False,
        max_length=100,
        help_text="Turnkey programmes (call kind `turnkey`): the member French authorities; replaces the list "
        "(a member kept by SIREN keeps its council resolution). 400 on another call.",
    )
    answers = serializers.DictField(
        required=False, help_text="Answers to the call's `questions`, `{code: value}`; checked against each question."
    )


class ApplicationCreateSerializer(ApplicationUpdateSerializer):
    call = serializers.CharField(max_length=32, help_text="The call's code, e.g. `DEMO-2026`.")
    title = serializers.CharField(max_length=250)
    organisation = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The lead authority, when the caller represents several (default: its first).",
    )


class AttachmentUploadSerializer(serializers.Serializer):
    kind = enum(AttachmentKind.choices, "AttachmentKindEnum")
    file = serializers.FileField(
        help_text="PDF, ODT, ODS, DOCX, XLSX, PNG or JPEG, recognised by content (not by name or declared type); "
        "at most `UPLOAD_MAX_BYTES` (20 MB by default)."
    )
    member = serializers.IntegerField(
        required=False,
        help_text="Turnkey programmes: the member authority (`members[].id`) whose `council_resolution` this is.",
    )


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "decimal", "example": "12000.00"},
            {
                "type": "object",
                "properties": {"amount": {"type": "string", "format": "decimal"}, "year": {"type": "integer"}},
                "required": ["amount"],
            },
        ]
    }
)
class TrancheInputField(serializers.JSONField):
    pass


class TransitionPayloadSerializer(serializers.Serializer):
    """One body for every transition; each transition reads its own fields (contract table)."""

    message = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        help_text="`request_completion` (required): what to complete.",
    )
    due_date = serializers.DateField(
        required=False, allow_null=True, help_text="`request_completion`: deadline (default: in 15 days)."
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=5000, help_text="`declare_ineligible`, `reinstate` (required)."
    )
    comment = serializers.CharField(
        required=False,
        max_length=5000,
        allow_blank=True,
        help_text="`close_opinions` (required when the instructor closes early), `defer`, `withdraw`, `approve`.",
    )
    session = serializers.IntegerField(required=False, help_text="`schedule` (required): committee session id.")
    amount = serializers.DecimalField(
        **MONEY, required=False, help_text="`approve` (required): amount granted, ≤ requested, ≤ rate cap, ≤ envelope."
    )
    tranches = serializers.ListField(
        child=TrancheInputField(),
        required=False,
        help_text="`approve` (optional): one amount per project year, totalling `amount` "
        "(default: the call's schedule).",
    )
    reasons = serializers.CharField(required=False, allow_blank=True, max_length=5000, help_text="`reject` (required).")
    partner_amount = serializers.DecimalField(
        **MONEY,
        required=False,
        help_text="`approve` on a joint fund (required there): the partner government's co-financing, beside "
        "`amount` (which alone counts against the envelope). Refused on another call.",
    )
    confirm = serializers.BooleanField(
        required=False,
        help_text="Optional: the answer to the confirmation the web page asks (`submit`, `resubmit`: the sworn "
        "statement; `declare_eligible`, `declare_ineligible`, `withdraw`). Given, it must be true (else 400 on "
        "`confirm`) and is kept in the history's log entry; left out, the transition runs as the contract says.",
    )


class DecisionSignSerializer(serializers.Serializer):
    confirm = serializers.BooleanField(
        required=False,
        help_text="Optional: the answer to the signature's confirmation. Given, it must be true (else 400 on "
        "`confirm`) and is kept in the log entry.",
    )


class ReviewerAssignSerializer(serializers.Serializer):
    reviewer = serializers.CharField(max_length=150, allow_blank=True, help_text="Username of a reviewer of the call.")


class ReviewerCandidateSerializer(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.CharField()
    open_reviews = serializers.IntegerField(help_text="Reviews assigned to it and not yet submitted (every call).")
    next_due_at = serializers.DateTimeField(allow_null=True, help_text="Its nearest review due date not yet past.")
    overdue = serializers.IntegerField(help_text="Its open reviews past their due date.")
    conflicts = serializers.ListField(
        child=serializers.ChoiceField(choices=["declared", "organisation", "region"]),
        help_text="Known conflicts: `declared` (a conflict it declared on another application of the same lead "
        "authority), `organisation` (it belongs to the lead or a co-applicant authority), `region` (same region as "
        "the applicant, when the call's `conflict_same_region` is on).",
    )
    conflict_labels = serializers.ListField(child=serializers.CharField(), help_text="The same, in words.")


class ReviewerCandidatesSerializer(serializers.Serializer):
    min_reviews = serializers.IntegerField(help_text="The call's minimum of submitted reviews.")
    submitted = serializers.IntegerField(help_text="The application's submitted reviews.")
    met = serializers.BooleanField(help_text="submitted ≥ min_reviews.")
    in_progress = serializers.IntegerField(help_text="The application's reviews assigned and not yet submitted.")
    candidates = ReviewerCandidateSerializer(
        many=True, source="reviewers", help_text="Reviewers of the call not yet assigned to it, by username."
    )


class OpinionGiveSerializer(serializers.Serializer):
    verdict = enum(OpinionRequest.Verdict.choices, "VerdictEnum")
    comment = serializers.CharField(
        required=False, allow_blank=True, max_length=5000, help_text="Required unless the verdict is favorable."
    )


class ReviewSubmitSerializer(serializers.Serializer):
    scores = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=5),
        help_text="Criterion code (see the call's `scoring_criteria`) → integer 0 to 5, every criterion.",
    )
    recommendation = enum(Review.Recommendation.choices, "RecommendationEnum")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, allow_blank=True)


class ReviewDeclareSerializer(serializers.Serializer):
    conflict = serializers.BooleanField(help_text="Whether the reviewer has a conflict of interest.")
    details = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, help_text="The conflict (required when `conflict`)."
    )


class ConsensusRecordSerializer(serializers.Serializer):
    scores = serializers.JSONField(
        required=False,
        help_text="{criterion code: integer 0–5} for every criterion of the call's grid; omitted: the "
        "reviewers' means rounded to the whole point.",
    )
    comment = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, help_text="Meant for the applicant (evaluation summary)."
    )
    internal_comment = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, help_text="The delegation's own note."
    )


class ConsensusSerializer(serializers.Serializer):
    application = serializers.UUIDField(source="application_id")
    scores = serializers.DictField(child=serializers.IntegerField())
    weighted_score = serializers.DecimalField(
        max_digits=3, decimal_places=1, allow_null=True, help_text="Weighted mean of the scores, 0.1 half up."
    )
    spreads = serializers.DictField(
        child=serializers.IntegerField(), help_text="Per criterion: highest minus lowest submitted review score."
    )
    comment = serializers.CharField(source="comment_for_applicant")
    internal_comment = serializers.CharField()
    recorded_by = serializers.CharField(source="recorded_by.username", allow_null=True)
    recorded_at = serializers.DateTimeField()


class CommitmentSerializer(serializers.Serializer):
    commitment_number = serializers.CharField(
        max_length=64, allow_blank=True, help_text="Budget commitment number: letters, digits and . _ / - only."
    )


class QuestionInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40, help_text="Lower-case letters, digits, `-`, `_`; unique in the call.")
    label = serializers.CharField(max_length=300, allow_blank=True)  # type: ignore[assignment]
    label_en = serializers.CharField(max_length=300, required=False, allow_blank=True)
    help = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    help_en = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    type = enum(CallQuestion.Type.choices, "QuestionTypeEnum")
    choices = serializers.JSONField(
        required=False, help_text='`[{"value", "label", "label_en"}]` (or plain labels) for the choice types.'
    )
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]
    min = serializers.CharField(required=False, allow_null=True, allow_blank=True, help_text="A decimal string.")
    max = serializers.CharField(required=False, allow_null=True, allow_blank=True, help_text="A decimal string.")


class CriterionInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40)
    label = serializers.CharField(max_length=200, allow_blank=True)  # type: ignore[assignment]
    label_en = serializers.CharField(max_length=200, required=False, allow_blank=True)
    weight = serializers.IntegerField(help_text="Positive for a call to be published.")


class CallUpdateSerializer(serializers.Serializer):
    """The settings of a call (PATCH: any subset). Types are checked on saving; whether
    they make a publishable call is the publication's condition."""

    version = serializers.IntegerField(required=False, help_text="The `version` read; a stale one is a 409.")
    title = serializers.CharField(max_length=250, required=False, allow_blank=True)
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    kind = enum(Call.Kind.choices, "CallKindEnum", required=False)
    opens_at = serializers.CharField(required=False, help_text="ISO 8601; without an offset: Paris time.")
    closes_at = serializers.CharField(required=False, help_text="ISO 8601; while published: only later.")
    envelope = serializers.CharField(required=False, help_text='Euros, a decimal string ("2000000.00").')
    rate_pma = serializers.CharField(required=False, help_text='A fraction: "0.7" is 70 %.')
    rate_apd = serializers.CharField(required=False)
    rate_non_apd = serializers.CharField(required=False)
    multi_country_rule = enum(Call.MultiCountryRule.choices, "MultiCountryRuleEnum", required=False)
    rate_multi_country = serializers.CharField(required=False)
    min_own_contribution = serializers.CharField(required=False)
    max_in_kind_share = serializers.CharField(required=False)
    budget_change_threshold = serializers.CharField(required=False)
    min_duration_months = serializers.IntegerField(required=False)
    max_duration_months = serializers.IntegerField(required=False)
    opinion_deadline_days = serializers.IntegerField(required=False)
    eligibility_deadline_days = serializers.IntegerField(required=False)
    review_deadline_days = serializers.IntegerField(required=False)
    min_reviews = serializers.IntegerField(required=False)
    interim_report_days = serializers.IntegerField(required=False)
    final_report_months = serializers.IntegerField(required=False)
    max_extension_months = serializers.IntegerField(required=False)
    min_members = serializers.IntegerField(required=False)
    prefecture_opinion_required = serializers.BooleanField(required=False)
    consensus_required = serializers.BooleanField(required=False)
    block_overdue_reports = serializers.BooleanField(required=False)
    required_attachments = serializers.ListField(child=serializers.CharField(max_length=40), required=False)
    scoring_criteria = CriterionInputSerializer(many=True, required=False)
    reminder_steps = serializers.ListField(child=serializers.IntegerField(), required=False)
    eligible_countries = serializers.ListField(
        child=serializers.CharField(max_length=2), required=False, help_text="ISO2 codes; empty: every country."
    )
    questions = QuestionInputSerializer(many=True, required=False, help_text="Replaces the call's questions.")


class CallCreateSerializer(CallUpdateSerializer):
    code = serializers.CharField(max_length=32, help_text="e.g. `AAP-2027-GEN`; unique.")
    duplicate_of = serializers.CharField(
        max_length=32, required=False, help_text="Copy every setting, criterion and question of this call."
    )


class SessionCreateSerializer(serializers.Serializer):
    call = serializers.CharField(max_length=32, help_text="The call's code.")
    date = serializers.DateField()
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)


# --- outputs ----------------------------------------------------------------------------------


class CriterionSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    label_en = serializers.SerializerMethodField(
        help_text="The English label (the French one when the call gives none)."
    )
    weight = serializers.SerializerMethodField()

    def get_label_en(self, criterion: dict[str, Any]) -> str:
        return criterion_label(criterion, "en")

    @extend_schema_field(OpenApiTypes.NUMBER)
    def get_weight(self, criterion: dict[str, Any]) -> Any:
        return criterion.get("weight", 1)


class ChoiceSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    label_en = serializers.CharField(required=False, allow_blank=True)


class QuestionSerializer(serializers.Serializer):
    """A call's own question (issue 15): the application's ``answers`` are keyed by ``code``."""

    code = serializers.CharField(help_text="Unique within the call; the key of `answers`.")
    label = serializers.CharField()  # type: ignore[assignment]
    label_en = serializers.CharField(allow_blank=True)
    help = serializers.CharField(allow_blank=True)
    help_en = serializers.CharField(allow_blank=True)
    type = enum(CallQuestion.Type.choices, "QuestionTypeEnum")
    choices = ChoiceSerializer(many=True, help_text="The offered choices (`choice`, `multiple_choice`).")
    required = serializers.BooleanField(help_text="Checked at submission, not when a draft is saved.")  # type: ignore[assignment]
    min = serializers.DecimalField(**MONEY, allow_null=True, help_text="`number`: the least accepted value.")
    max = serializers.DecimalField(**MONEY, allow_null=True, help_text="`number`: the greatest accepted value.")
    position = serializers.IntegerField()


class CallSerializer(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    kind = enum(Call.Kind.choices, "CallKindEnum")
    kind_label = serializers.CharField(source="get_kind_display")
    state = enum(Call.State.choices, "CallStateEnum")
    state_label = serializers.CharField(source="get_state_display")
    published_on = serializers.DateField(allow_null=True)
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    accepting = serializers.BooleanField(source="is_accepting", help_text="Open to submissions right now.")
    envelope = serializers.DecimalField(**MONEY)
    eligible_countries = serializers.SerializerMethodField(help_text="ISO2 codes; empty: every country.")
    rate_pma = serializers.DecimalField(
        **RATE, help_text="Max cofinancing rate, least developed countries (0.7 = 70 %)."
    )
    rate_apd = serializers.DecimalField(**RATE, help_text="Max rate, other ODA-eligible countries.")
    rate_non_apd = serializers.DecimalField(**RATE, help_text="Max rate, non-ODA countries.")
    multi_country_rule = enum(Call.MultiCountryRule.choices, "MultiCountryRuleEnum")
    rate_multi_country = serializers.DecimalField(**RATE)
    min_own_contribution = serializers.DecimalField(**RATE, help_text="Of the total budget (cash + in-kind).")
    max_in_kind_share = serializers.DecimalField(**RATE, help_text="Of the French authorities' own contribution.")
    min_duration_months = serializers.IntegerField()
    max_duration_months = serializers.IntegerField()
    opinion_deadline_days = serializers.IntegerField()
    eligibility_deadline_days = serializers.IntegerField()
    review_deadline_days = serializers.IntegerField()
    prefecture_opinion_required = serializers.BooleanField()
    min_reviews = serializers.IntegerField()
    block_overdue_reports = serializers.BooleanField()
    required_attachments = serializers.ListField(
        child=enum(AttachmentKind.choices, "AttachmentKindEnum"), help_text="Attachment kinds required."
    )
    scoring_criteria = CriterionSerializer(many=True)
    # The call editor (issue 15).
    consensus_required = serializers.BooleanField()
    reminder_steps = serializers.ListField(
        child=serializers.IntegerField(), help_text="Days relative to a task's due date (negative: before)."
    )
    interim_report_days = serializers.IntegerField()
    final_report_months = serializers.IntegerField()
    max_extension_months = serializers.IntegerField()
    budget_change_threshold = serializers.DecimalField(**RATE)
    min_members = serializers.IntegerField()
    questions = serializers.SerializerMethodField(help_text="The call's own questions, in order.")
    version = serializers.IntegerField(
        help_text="Optimistic concurrency token: send it back with a PATCH; a stale one is a 409."
    )

    def get_eligible_countries(self, call: Call) -> list[str]:
        return sorted(c.iso2 for c in call.eligible_countries.all())

    @extend_schema_field(QuestionSerializer(many=True))
    def get_questions(self, call: Call) -> list[dict[str, Any]]:
        return [q.as_dict() for q in call.questions.all()]


class OrganisationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PartnerSerializer(serializers.Serializer):
    name = serializers.CharField()
    country = serializers.CharField(source="country_id")


class BudgetLineSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    category = enum(BudgetLine.Category.choices, "BudgetCategoryEnum")
    label = serializers.CharField()  # type: ignore[assignment]
    amount = serializers.DecimalField(**MONEY)
    country = serializers.CharField(source="country_id", allow_null=True)


class FundingSerializer(serializers.Serializer):
    own_cash = serializers.DecimalField(**MONEY)
    own_in_kind = serializers.DecimalField(**MONEY)
    partner = serializers.DecimalField(**MONEY, source="partner_funding")
    other = serializers.DecimalField(**MONEY, source="other_funding")
    requested = serializers.DecimalField(**MONEY, source="requested_amount")


class BudgetSerializer(serializers.Serializer):
    lines = BudgetLineSerializer(many=True, source="budget_lines.all")
    funding = FundingSerializer(source="*")
    total_expenses = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DecimalField(**MONEY))
    def get_total_expenses(self, app: Application) -> str:
        total = sum((line.amount for line in app.budget_lines.all()), start=0)
        return f"{total:.2f}"


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = enum(AttachmentKind.choices, "AttachmentKindEnum")
    kind_label = serializers.CharField(source="get_kind_display")
    name = serializers.CharField(source="original_name", help_text="The uploaded file's name, as display text only.")
    content_type = serializers.CharField(help_text="Sniffed from the content.")
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    uploaded_at = serializers.DateTimeField()
    member = serializers.IntegerField(
        source="member_id", allow_null=True, help_text="Turnkey programmes: the member whose council resolution it is."
    )
    url = serializers.SerializerMethodField(help_text="Download (same visibility as the application).")

    def get_url(self, attachment: Attachment) -> str:
        return reverse("api:attachment-file", args=[attachment.application_id, attachment.pk])


class DocumentSerializer(serializers.Serializer):
    kind = enum(Document.Kind.choices, "DocumentKindEnum")
    kind_label = serializers.CharField(source="get_kind_display")
    reference = serializers.CharField()
    verification_code = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()
    pages = serializers.IntegerField()
    issued_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField(help_text="The PDF (application/pdf).")
    verify_url = serializers.SerializerMethodField(help_text="The public verification page.")

    def get_url(self, document: Document) -> str:
        if document.decision_id:
            return reverse("api:decision-pdf", args=[document.decision_id])
        return reverse("api:application-document", args=[document.application_id, document.verification_code])

    def get_verify_url(self, document: Document) -> str:
        return f"/verify/{document.verification_code}/"


class TrancheSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    year = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)
    condition = enum(["signature", "interim_report", "final_report"], "TrancheConditionEnum")


class DecisionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = enum(Decision.State.choices, "DecisionStateEnum")
    state_label = serializers.CharField(source="get_state_display")
    outcome = enum(Decision.Outcome.choices, "DecisionOutcomeEnum")
    outcome_label = serializers.CharField(source="get_outcome_display")
    amount = serializers.DecimalField(**MONEY, help_text="Granted amount (0.00 when rejected).")
    partner_amount = serializers.DecimalField(
        **MONEY, help_text="Joint funds: the partner government's co-financing, beside `amount` (else 0.00)."
    )
    rate = serializers.DecimalField(max_digits=7, decimal_places=6, help_text="Granted amount / total budget.")
    tranches = TrancheSerializer(many=True)
    reasons = serializers.CharField(help_text="Reasons of a rejection.")
    application = serializers.UUIDField(source="application_id")
    reference = serializers.CharField(source="application.reference", allow_null=True)
    title = serializers.CharField(source="application.title")
    call = serializers.CharField(source="application.call.code")
    session = serializers.IntegerField(source="session_id", allow_null=True)
    decided_at = serializers.DateTimeField()
    signed_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    recorded_at = serializers.DateTimeField(allow_null=True)
    commitment_number = serializers.CharField(help_text="Set by finance when recorded; empty before.")
    document = serializers.SerializerMethodField(help_text="The signed letter, once rendered.")

    @extend_schema_field(DocumentSerializer(allow_null=True))
    def get_document(self, decision: Decision) -> dict[str, Any] | None:
        document = getattr(decision, "document", None)
        return DocumentSerializer(document).data if document is not None else None


class SessionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateField()
    title = serializers.CharField()


class HistoryEntrySerializer(serializers.Serializer):
    transition = serializers.CharField(help_text="e.g. `submit`, `give`, `sign`; `create` and `assign` too.")
    subject = serializers.CharField(help_text="`application`, `opinion`, `review` or `decision`.")
    source = serializers.CharField()  # type: ignore[assignment]
    target = serializers.CharField()
    by = serializers.CharField(
        allow_null=True,
        help_text="Username of the actor; null for the system. Applicants see a staff member's role, not its name.",
    )
    role = serializers.CharField(help_text="The role under which it was done, or `system`.")
    at = serializers.DateTimeField()
    comment = serializers.CharField(help_text="Empty when none, or when the caller may not read it.")


class BlockedTransitionSerializer(serializers.Serializer):
    name = enum(TRANSITION_NAMES, "TransitionNameEnum")
    label = serializers.CharField()  # type: ignore[assignment]
    unmet = serializers.ListField(child=serializers.CharField())


class CompletionSerializer(serializers.Serializer):
    message = serializers.CharField()
    due_date = serializers.DateField(allow_null=True)


class ApplicationSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    reference = serializers.CharField(allow_null=True, help_text="`<CALL CODE>-<00001>`, set at submission.")
    state = enum(Application.State.choices, "ApplicationStateEnum")
    state_label = serializers.CharField(source="get_state_display", help_text="In the caller's language.")
    call = serializers.CharField(source="call.code")
    title = serializers.CharField()
    organisation = OrganisationSerializer()
    countries = serializers.SerializerMethodField(help_text="ISO2 codes of the project countries.")
    requested_amount = serializers.DecimalField(**MONEY)
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    state_changed_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()

    def get_countries(self, app: Application) -> list[str]:
        return sorted(c.iso2 for c in app.countries.all())

    def get_url(self, app: Application) -> str:
        return reverse("api:application-detail", args=[app.pk])


class MemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    siren = serializers.CharField()
    region = serializers.CharField(source="region_id", allow_null=True)
    contribution = serializers.DecimalField(**MONEY)
    organisation = serializers.IntegerField(
        source="organisation_id", allow_null=True, help_text="The platform's organisation with that SIREN, if any."
    )
    resolution = serializers.SerializerMethodField(help_text="Its council resolution's attachment id, or null.")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_resolution(self, member: Any) -> int | None:
        ids = [a.pk for a in member.resolutions.all()]
        return ids[0] if ids else None


class ApplicationSerializer(ApplicationSummarySerializer):
    summary = serializers.CharField()
    objectives = serializers.CharField()
    themes = serializers.ListField(child=serializers.CharField())
    sdg_targets = serializers.ListField(child=serializers.CharField())
    gender_marker = serializers.IntegerField()
    co_applicants = OrganisationSerializer(many=True, source="co_applicants.all")
    partners = PartnerSerializer(many=True, source="partners.all")
    start_date = serializers.DateField(allow_null=True)
    duration_months = serializers.IntegerField(allow_null=True)
    budget = BudgetSerializer(source="*")
    answers = serializers.DictField(help_text="Answers to the call's `questions`, `{code: value}`.")
    completion = serializers.SerializerMethodField(help_text="The instructor's request, while `incomplete`.")
    session = serializers.SerializerMethodField(help_text="The committee session, once scheduled.")
    updated_at = serializers.DateTimeField()
    attachments = AttachmentSerializer(many=True, source="attachments.all")
    members = MemberSerializer(  # type: ignore[call-arg]
        many=True, source="members.all", help_text="Turnkey programmes: the member French authorities (else [])."
    )
    available_transitions = serializers.ListField(
        source="api_available",
        child=enum(TRANSITION_NAMES, "TransitionNameEnum"),
        help_text="Transitions the caller may fire now (its role, the state and the conditions allow it; "
        "only the payload remains to be given).",
    )
    blocked_transitions = BlockedTransitionSerializer(
        many=True,
        source="api_blocked",
        help_text="Transitions the caller holds the role for and the state allows, but whose conditions are "
        "not met yet, with the reasons (e.g. why `submit` is not possible).",
    )
    history = HistoryEntrySerializer(
        many=True, source="api_history", help_text="The transition log, filtered to what the caller may see."
    )
    documents = DocumentSerializer(many=True, source="api_documents")
    decision = serializers.SerializerMethodField(help_text="When the caller may see it.")

    @extend_schema_field(CompletionSerializer(allow_null=True))
    def get_completion(self, app: Application) -> dict[str, Any] | None:
        if not app.completion_message:
            return None
        return CompletionSerializer({"message": app.completion_message, "due_date": app.completion_due}).data

    @extend_schema_field(SessionRefSerializer(allow_null=True))
    def get_session(self, app: Application) -> dict[str, Any] | None:
        return SessionRefSerializer(app.session).data if app.session is not None else None

    @extend_schema_field(DecisionSerializer(allow_null=True))
    def get_decision(self, app: Application) -> dict[str, Any] | None:
        decision = getattr(app, "visible_decision", None)
        return DecisionSerializer(decision).data if decision is not None else None


class TaskSubjectSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="`opinion`, `review` or `decision`.")
    id = serializers.CharField()


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = enum(TaskKind.choices, "TaskKindEnum")
    kind_label = serializers.CharField(source="get_kind_display")
    state = enum(Task.State.choices, "TaskStateEnum")
    due_at = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField(source="is_overdue")
    application = serializers.UUIDField(source="application_id")
    reference = serializers.CharField(source="application.reference", allow_null=True)
    title = serializers.CharField(source="application.title")
    queue = serializers.CharField(source="queue_role", help_text="The role whose queue holds the task.")
    assignee = serializers.SerializerMethodField(help_text="Username of whoever took the task, or null.")
    reserved = serializers.BooleanField(help_text="Assigned by the workflow (cannot be unclaimed).")
    subject = serializers.SerializerMethodField(help_text="What to act on (e.g. the opinion request to give).")
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_assignee(self, task: Task) -> str | None:
        return task.assignee.get_username() if task.assignee is not None else None

    @extend_schema_field(TaskSubjectSerializer(allow_null=True))
    def get_subject(self, task: Task) -> dict[str, str] | None:
        if not task.subject_type:
            return None
        return {"type": subject_name(task.subject_type), "id": task.subject_id}


class OpinionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = enum(OpinionRequest.State.choices, "OpinionStateEnum")
    state_label = serializers.CharField(source="get_state_display")
    authority = enum(OpinionRequest.Authority.choices, "OpinionAuthorityEnum")
    due_at = serializers.DateTimeField()
    application = serializers.UUIDField(source="application_id")
    reference = serializers.CharField(source="application.reference", allow_null=True)
    title = serializers.CharField(source="application.title")
    country = serializers.CharField(
        source="country_id", allow_null=True, help_text="ISO2 (embassy and partner government requests)."
    )
    region = serializers.CharField(source="region_id", allow_null=True, help_text="Region code (prefecture requests).")
    verdict = serializers.SerializerMethodField(help_text="Once given.")
    comment = serializers.CharField()
    requested_at = serializers.DateTimeField()
    given_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(nullable_enum("VerdictEnum"))
    def get_verdict(self, request: OpinionRequest) -> str | None:
        return request.verdict or None


class ReviewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = enum(Review.State.choices, "ReviewStateEnum")
    state_label = serializers.CharField(source="get_state_display")
    application = serializers.UUIDField(source="application_id")
    reference = serializers.CharField(source="application.reference", allow_null=True)
    title = serializers.CharField(source="application.title")
    call = serializers.CharField(source="application.call.code")
    reviewer = serializers.CharField(source="reviewer.username")
    criteria = CriterionSerializer(many=True, source="application.call.scoring_criteria")
    scores = serializers.DictField(child=serializers.IntegerField())
    recommendation = serializers.SerializerMethodField()
    comment = serializers.CharField()
    decline_reason = serializers.CharField()
    assigned_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    declared_at = serializers.DateTimeField(
        allow_null=True, help_text="When the reviewer declared the absence of conflict of interest."
    )

    @extend_schema_field(nullable_enum("RecommendationEnum"))
    def get_recommendation(self, review: Review) -> str | None:
        return review.recommendation or None


class SessionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    call = serializers.CharField(source="call.code")
    date = serializers.DateField()
    title = serializers.CharField()
    state = enum(CommitteeSession.State.choices, "SessionStateEnum")
    state_label = serializers.CharField(source="get_state_display")
    applications_count = serializers.IntegerField(help_text="Applications scheduled to this session.")
    created_at = serializers.DateTimeField()


class RankingRowSerializer(serializers.Serializer):
    application = serializers.UUIDField()
    reference = serializers.CharField(allow_null=True)
    weighted_score = serializers.DecimalField(
        max_digits=3, decimal_places=1, allow_null=True, help_text="The consensus's weighted score (null: none yet)."
    )
    requested = serializers.DecimalField(max_digits=14, decimal_places=2)
    cumulative_requested = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Requested amounts from the first row down to this one."
    )
    within_envelope = serializers.BooleanField(
        help_text="cumulative_requested ≤ the call's envelope less what other sessions' approvals commit."
    )


class SessionDetailSerializer(SessionSerializer):
    ranking = RankingRowSerializer(
        many=True,
        help_text="Best first: higher consensus weighted score (none: last), then lower requested amount, then "
        "earlier submission, then reference. Once the session is closed: the ranking frozen at the close.",
    )
    ranking_frozen_at = serializers.DateTimeField(
        allow_null=True, help_text="When the ranking was frozen (the session's close); null while it is live."
    )
