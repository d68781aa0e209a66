"""The API of the grant's life after the commitment (ARCHITECTURE.md, "The grant's life
after `recorded`"): payments, reports, amendments, renunciation.

Views are thin: they read the request's shape, call one ``grants.services`` function
(the engine checks, writes and logs) and serialize what the read policy
(``grants.policy.postaward``) lets the caller see. A payment, report or amendment the
caller may not see is a 404, exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from grants import services
from grants.machines.postaward import current_budget, explain, statement
from grants.models import ZERO, Decision
from grants.policy.postaward import visible_amendments, visible_payments, visible_reports
from grants.postaward import Amendment, Payment, Report

from . import selectors
from .pagination import ApiCursorPagination
from .serializers import MONEY, DecisionSerializer, enum
from .views import APPLICATION_PARAM, ApiView, _body, _choice, _filtered, paged, responses

# --- serializers ---------------------------------------------------------------------------------


class PaymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    decision = serializers.IntegerField(source="decision_id")
    application = serializers.UUIDField(source="application_id")
    reference = serializers.CharField(source="application.reference", allow_null=True)
    call = serializers.CharField(source="application.call.code")
    number = serializers.IntegerField()
    kind = enum(Payment.Kind.choices, "PaymentKindEnum")
    kind_label = serializers.CharField(source="get_kind_display")
    year = serializers.IntegerField()
    condition = enum(Payment.Condition.choices, "PaymentConditionEnum")
    state = enum(Payment.State.choices, "PaymentStateEnum")
    state_label = serializers.CharField(source="get_state_display")
    amount = serializers.DecimalField(**MONEY, help_text="Negative for a recovery (what is reimbursed).")
    planned_amount = serializers.DecimalField(**MONEY, help_text="The amount of the signed schedule.")
    explanation = serializers.SerializerMethodField(help_text="How a balance or a recovery was computed, in words.")
    paid_on = serializers.DateField(allow_null=True)
    payment_reference = serializers.CharField()
    cancelled_reason = serializers.CharField()

    def get_explanation(self, payment: Payment) -> str:
        return explain(payment)


class PaymentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    kind = enum(Payment.Kind.choices, "PaymentKindEnum")
    amount = serializers.DecimalField(**MONEY)
    condition = enum(Payment.Condition.choices, "PaymentConditionEnum")
    state = enum(Payment.State.choices, "PaymentStateEnum")
    paid_on = serializers.DateField(allow_null=True)
    explanation = serializers.SerializerMethodField()

    def get_explanation(self, payment: Payment) -> str:
        return explain(payment)


class ExpenseSerializer(serializers.Serializer):
    category = serializers.CharField()
    year = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)


class StatementRowSerializer(serializers.Serializer):
    category = serializers.CharField(help_text="A budget category, or `total`.")
    label = serializers.CharField()  # type: ignore[assignment]
    budget = serializers.DecimalField(**MONEY, help_text="The budget in force (the last accepted change).")
    actual = serializers.DecimalField(**MONEY)
    gap = serializers.DecimalField(**MONEY, help_text="actual − budget.")
    gap_label = serializers.CharField(help_text="The gap as a share of the budget, e.g. `-12,5 %`.")


class ReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    decision = serializers.IntegerField(source="decision_id")
    application = serializers.UUIDField(source="application_id")
    reference = serializers.CharField(source="application.reference", allow_null=True)
    kind = enum(Report.Kind.choices, "ReportKindEnum")
    label = serializers.CharField()  # type: ignore[assignment]
    number = serializers.IntegerField(help_text="The project year an interim report closes; 0 for the final one.")
    state = enum(Report.State.choices, "ReportStateEnum")
    state_label = serializers.CharField(source="get_state_display")
    due_on = serializers.DateField()
    expenses = ExpenseSerializer(many=True)
    statement = serializers.SerializerMethodField(help_text="Actual spending beside the budget, per category.")
    narrative = serializers.SerializerMethodField(help_text="The technical narrative's original name, if filed.")
    return_message = serializers.CharField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(StatementRowSerializer(many=True))
    def get_statement(self, report: Report) -> list[dict[str, Any]]:
        if not report.expenses:
            return []
        return StatementRowSerializer(statement(report.decision, report.expenses), many=True).data  # type: ignore[return-value]

    def get_narrative(self, report: Report) -> str | None:
        return report.narrative_name if report.narrative else None


class ReportListSerializer(ReportSerializer):
    """A report in a list: without its statement (the detail has it), so a page of
    reports costs the same few queries whatever its size."""

    statement = None  # type: ignore[assignment]


class ReportRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = enum(Report.Kind.choices, "ReportKindEnum")
    number = serializers.IntegerField()
    state = enum(Report.State.choices, "ReportStateEnum")
    due_on = serializers.DateField()


class BudgetVersionLineSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    category = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    amount = serializers.DecimalField(**MONEY)


class AmendmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    decision = serializers.IntegerField(source="decision_id")
    number = serializers.IntegerField()
    kind = enum(Amendment.Kind.choices, "AmendmentKindEnum")
    kind_label = serializers.CharField(source="get_kind_display")
    state = enum(Amendment.State.choices, "AmendmentStateEnum")
    state_label = serializers.CharField(source="get_state_display")
    months = serializers.IntegerField()
    lines = BudgetVersionLineSerializer(many=True)
    moved_share = serializers.DecimalField(max_digits=7, decimal_places=4)
    text = serializers.CharField()
    reason = serializers.CharField()
    decision_reason = serializers.CharField()
    requested_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)


class GrantDecisionSerializer(DecisionSerializer):
    """A decision with its life after the commitment."""

    payments = serializers.SerializerMethodField()
    reports = serializers.SerializerMethodField()
    amendments = serializers.SerializerMethodField()
    budget = serializers.SerializerMethodField(help_text="The budget in force (the signed one until a change).")
    paid_total = serializers.SerializerMethodField(help_text="Paid so far, less what was reimbursed.")
    remaining = serializers.SerializerMethodField(help_text="What is still to be paid (scheduled and payable).")

    @extend_schema_field(PaymentRefSerializer(many=True))
    def get_payments(self, decision: Decision) -> Any:
        return PaymentRefSerializer(decision.payments.order_by("number"), many=True).data

    @extend_schema_field(ReportRefSerializer(many=True))
    def get_reports(self, decision: Decision) -> Any:
        return ReportRefSerializer(decision.reports.order_by("due_on", "pk"), many=True).data

    @extend_schema_field(AmendmentSerializer(many=True))
    def get_amendments(self, decision: Decision) -> Any:
        return AmendmentSerializer(decision.amendments.order_by("number"), many=True).data

    @extend_schema_field(BudgetVersionLineSerializer(many=True))
    def get_budget(self, decision: Decision) -> Any:
        return BudgetVersionLineSerializer(current_budget(decision), many=True).data

    @extend_schema_field(serializers.DecimalField(**MONEY))
    def get_paid_total(self, decision: Decision) -> str:
        total = sum((p.amount for p in decision.payments.filter(state=Payment.State.PAID)), ZERO)
        return f"{total:f}"

    @extend_schema_field(serializers.DecimalField(**MONEY))
    def get_remaining(self, decision: Decision) -> str:
        pending = decision.payments.filter(
            state__in=[Payment.State.SCHEDULED, Payment.State.PAYABLE],
            kind__in=[Payment.Kind.TRANCHE, Payment.Kind.BALANCE],
        )
        return f"{sum((p.amount for p in pending), ZERO):f}"


class PaySerializer(serializers.Serializer):
    paid_on = serializers.DateField()
    payment_reference = serializers.CharField(max_length=64)
    amount = serializers.CharField(required=False, help_text="Optional: must be the payment's amount.")


class ReturnSerializer(serializers.Serializer):
    message = serializers.CharField()
    due_date = serializers.DateField()


class ReportUploadSerializer(serializers.Serializer):
    narrative = serializers.FileField(help_text="The technical narrative: PDF, ODT or DOCX (sniffed).")
    expenses = serializers.CharField(
        help_text='JSON list of the actual spending: `[{"category": "staff", "year": 1, "amount": "12000.00"}]`.'
    )


class AmendmentRequestSerializer(serializers.Serializer):
    kind = enum(Amendment.Kind.choices, "AmendmentKindEnum")
    months = serializers.IntegerField(required=False, help_text="`extension`: months added to the end date.")
    lines = BudgetVersionLineSerializer(many=True, required=False, help_text="`budget_change`: the new budget's lines.")
    text = serializers.CharField(required=False, help_text="`other`: the change asked for.")
    reason = serializers.CharField()


class GrantReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False)


# --- reads ---------------------------------------------------------------------------------------


def _payment(user: Any, pk: int) -> Payment:
    payment = visible_payments(user).select_related("application__call").filter(pk=pk).first()
    if payment is None:
        raise selectors.not_found()
    return payment


def _report(user: Any, pk: int) -> Report:
    report = visible_reports(user).select_related("application__call", "decision").filter(pk=pk).first()
    if report is None:
        raise selectors.not_found()
    return report


def _amendment(user: Any, pk: int) -> Amendment:
    amendment = visible_amendments(user).filter(pk=pk).first()
    if amendment is None:
        raise selectors.not_found()
    return amendment


def _decision(user: Any, pk: int) -> Decision:
    return selectors.visible_decision(user, pk)


CALL_PARAM = OpenApiParameter("call", str, OpenApiParameter.QUERY, required=False, description="A call's code.")


class PaymentPagination(ApiCursorPagination):
    ordering = ("-created_at", "-id")


class PaymentListView(ApiView):
    pagination_class = PaymentPagination

    @extend_schema(
        tags=["payments"],
        operation_id="payments_list",
        summary="Payments",
        description="Finance and instructors: the payments of their calls; an applicant: its own grants'. "
        "Filters: `state`, `kind`, `application`, `call`.",
        parameters=[
            _choice("state", Payment.State.choices, "Only in this state."),
            _choice("kind", Payment.Kind.choices, "Only of this kind."),
            APPLICATION_PARAM,
            CALL_PARAM,
        ],
        responses=paged(PaymentSerializer),
    )
    def get(self, request: Request) -> Response:
        qs: QuerySet[Payment] = visible_payments(request.user).select_related("application__call")
        qs = _filtered(request, qs, Payment.State.values, by_application=True)
        kind = request.query_params.get("kind")
        if kind:
            if kind not in Payment.Kind.values:
                raise ValidationError(
                    {
                        "kind": [
                            _("Valeur inconnue ; valeurs possibles : %(list)s.")
                            % {"list": ", ".join(Payment.Kind.values)}
                        ]
                    }
                )
            qs = qs.filter(kind=kind)
        if request.query_params.get("call"):
            qs = qs.filter(application__call__code=request.query_params["call"])
        return self.paginate(qs, PaymentSerializer)


class PaymentPayView(ApiView):
    @extend_schema(
        tags=["payments"],
        operation_id="payments_pay",
        summary="Pay (finance)",
        description="payable → paid with `paid_on` (not in the future) and `payment_reference`. For a recovery, "
        "records the reimbursement. 409 if the payment is not payable (already paid, cancelled, scheduled); "
        "400 if `amount` is given and is not the payment's. Two concurrent payments of one tranche: one "
        "succeeds, the other is a 409.",
        request=PaySerializer,
        responses=responses({200: PaymentSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, payment_id: int) -> Response:
        _payment(request.user, payment_id)
        data = _body(request)
        services.payment_pay(
            payment_id=payment_id,
            user=request.user,
            paid_on=data.get("paid_on"),
            payment_reference=data.get("payment_reference", ""),
            amount=data.get("amount"),
        )
        return Response(PaymentSerializer(_payment(request.user, payment_id)).data)


class ReportPagination(ApiCursorPagination):
    ordering = ("due_on", "id")
    position_field = models.DateField()


class ReportListView(ApiView):
    pagination_class = ReportPagination

    @extend_schema(
        tags=["reports"],
        operation_id="reports_list",
        summary="Reports",
        description="Instructors: the reports of their calls; an applicant: its own grants'. Soonest due first.",
        parameters=[_choice("state", Report.State.choices, "Only in this state."), APPLICATION_PARAM],
        responses=paged(ReportListSerializer),
    )
    def get(self, request: Request) -> Response:
        qs = visible_reports(request.user).select_related("application__call", "decision")
        qs = _filtered(request, qs, Report.State.values, by_application=True)
        return self.paginate(qs, ReportListSerializer)


class ReportDetailView(ApiView):
    @extend_schema(
        tags=["reports"],
        operation_id="reports_retrieve",
        summary="One report",
        responses=responses({200: ReportSerializer}, 404),
    )
    def get(self, request: Request, report_id: int) -> Response:
        return Response(ReportSerializer(_report(request.user, report_id)).data)


class _ReportFileView(ApiView):
    parser_classes = [MultiPartParser, FormParser]
    transition = ""

    def post(self, request: Request, report_id: int) -> Response:
        _report(request.user, report_id)
        upload = request.FILES.get("narrative")
        if upload is not None and upload.size is not None and upload.size > settings.UPLOAD_MAX_BYTES:
            raise ValidationError(
                {
                    "narrative": [
                        _("Le fichier dépasse la taille maximale de %(mb)s Mo.")
                        % {"mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024)}
                    ]
                }
            )
        payload = {
            "narrative": upload.read() if upload is not None else b"",
            "narrative_name": (upload.name or "") if upload is not None else "",
            "expenses": request.data.get("expenses") if hasattr(request.data, "get") else None,
        }
        services.report_transition(report_id=report_id, name=self.transition, user=request.user, payload=payload)
        return Response(ReportSerializer(_report(request.user, report_id)).data)


_UPLOAD_DOC = (
    "Multipart `narrative` (the technical narrative: PDF, ODT or DOCX, recognised from its bytes) and "
    '`expenses` (JSON text: `[{category, year, amount}]`, amounts as strings like `"12000.00"` or '
    '`"12 000,00"`; floats, negative amounts, unknown categories and years outside the project are a 400 on '
    "`expenses`). 409 if the grant is closed or renounced."
)


class ReportSubmitView(_ReportFileView):
    transition = "submit"

    @extend_schema(
        tags=["reports"],
        operation_id="reports_submit",
        summary="File the report (applicant)",
        description="due → submitted. " + _UPLOAD_DOC,
        request={"multipart/form-data": ReportUploadSerializer},
        responses=responses({200: ReportSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, report_id: int) -> Response:
        return super().post(request, report_id)


class ReportResubmitView(_ReportFileView):
    transition = "resubmit"

    @extend_schema(
        tags=["reports"],
        operation_id="reports_resubmit",
        summary="File the report again (applicant)",
        description="returned → submitted. " + _UPLOAD_DOC,
        request={"multipart/form-data": ReportUploadSerializer},
        responses=responses({200: ReportSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, report_id: int) -> Response:
        return super().post(request, report_id)


class ReportAcceptView(ApiView):
    @extend_schema(
        tags=["reports"],
        operation_id="reports_accept",
        summary="Accept the report (instructor)",
        description="submitted → accepted. An interim report makes its tranche payable; the final report "
        "recomputes the balance (at most the granted amount, at most the call's rate × the actual expenses), "
        "or issues a recovery when more was paid than is due.",
        request=None,
        responses=responses({200: ReportSerializer}, 403, 404, 409),
    )
    def post(self, request: Request, report_id: int) -> Response:
        _report(request.user, report_id)
        services.report_transition(report_id=report_id, name="accept", user=request.user)
        return Response(ReportSerializer(_report(request.user, report_id)).data)


class ReportReturnView(ApiView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        tags=["reports"],
        operation_id="reports_return",
        summary="Return the report (instructor)",
        description="submitted → returned, with `message` (what to redo) and `due_date` (after today).",
        request=ReturnSerializer,
        responses=responses({200: ReportSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, report_id: int) -> Response:
        _report(request.user, report_id)
        data = _body(request)
        services.report_transition(
            report_id=report_id,
            name="return",
            user=request.user,
            payload={"message": data.get("message", ""), "due_date": data.get("due_date")},
        )
        return Response(ReportSerializer(_report(request.user, report_id)).data)


class AmendmentCreateView(ApiView):
    @extend_schema(
        tags=["amendments"],
        operation_id="decisions_amendments_create",
        summary="Ask for an amendment (applicant)",
        description="`{kind: extension, months, reason}` (within the call's `max_extension_months`, all "
        "extensions together) · `{kind: budget_change, lines, reason}` (moving more than the call's "
        "`budget_change_threshold` of the budget between categories; a smaller change is declared with the "
        "report) · `{kind: other, text, reason}`. Only on a recorded grant (else 409).",
        request=AmendmentRequestSerializer,
        responses=responses({201: AmendmentSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, decision_id: int) -> Response:
        _decision(request.user, decision_id)
        amendment = services.amendment_request(decision_id=decision_id, user=request.user, payload=_body(request))
        return Response(AmendmentSerializer(amendment).data, status=201)


class _AmendmentDecideView(ApiView):
    name = ""

    def post(self, request: Request, amendment_id: int) -> Response:
        _amendment(request.user, amendment_id)
        data = _body(request)
        services.amendment_decide(
            amendment_id=amendment_id, name=self.name, user=request.user, reason=data.get("reason", "")
        )
        return Response(AmendmentSerializer(_amendment(request.user, amendment_id)).data)


class AmendmentAcceptView(_AmendmentDecideView):
    name = "accept"

    @extend_schema(
        tags=["amendments"],
        operation_id="amendments_accept",
        summary="Accept the amendment (instructor)",
        description="requested → accepted (`reason` optional). An extension moves the end date and the final "
        "report's due date; a budget change becomes the budget in force (the signed one is kept). Two "
        "acceptances on one grant are serialised by its lock: an extension beyond the call's maximum is a 409.",
        request=GrantReasonSerializer,
        responses=responses({200: AmendmentSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, amendment_id: int) -> Response:
        return super().post(request, amendment_id)


class AmendmentRefuseView(_AmendmentDecideView):
    name = "refuse"

    @extend_schema(
        tags=["amendments"],
        operation_id="amendments_refuse",
        summary="Refuse the amendment (instructor)",
        description="requested → refused; `reason` required.",
        request=GrantReasonSerializer,
        responses=responses({200: AmendmentSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, amendment_id: int) -> Response:
        return super().post(request, amendment_id)


class DecisionRenounceView(ApiView):
    @extend_schema(
        tags=["decisions"],
        operation_id="decisions_renounce",
        summary="Renounce the project (applicant)",
        description="recorded → renounced with `reason`: the unpaid tranches are cancelled, the reports are no "
        "longer due, and what was paid is to be reimbursed (a recovery, payable).",
        request=GrantReasonSerializer,
        responses=responses({200: GrantDecisionSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, decision_id: int) -> Response:
        _decision(request.user, decision_id)
        data = _body(request)
        services.decision_renounce(decision_id=decision_id, user=request.user, reason=data.get("reason", ""))
        return Response(GrantDecisionSerializer(_decision(request.user, decision_id)).data)


class GrantDecisionDetailView(ApiView):
    @extend_schema(
        tags=["decisions"],
        operation_id="decisions_retrieve",
        summary="One decision",
        description="With its life after the commitment: `payments`, `reports`, `amendments`, the budget in "
        "force, `paid_total` and `remaining`.",
        responses=responses({200: GrantDecisionSerializer}, 404),
    )
    def get(self, request: Request, decision_id: int) -> Response:
        return Response(GrantDecisionSerializer(_decision(request.user, decision_id)).data)
