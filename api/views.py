"""The HTTP API v1 (contract: ARCHITECTURE.md, "HTTP API").

Views are thin: they check the shape of the input, call one domain function
(``grants.writes.drafts``, ``grants.services``, ``workflows.tasks_service``) and serialize what
the scoped selectors (``api.selectors`` over ``grants.policy``) return. Every error is
mapped to its status and JSON body by ``api.errors.exception_handler``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.db import models
from django.db.models import BooleanField, Case, DateTimeField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, Substr
from django.http import FileResponse, Http404, HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from grants import search, services
from grants.documents.downloads import attachment_response
from grants.models import (
    Application,
    Attachment,
    Call,
    CommitteeSession,
    Decision,
    Document,
    OpinionRequest,
    Review,
)
from grants.writes import drafts
from security import otp as second_factor
from security import tokens
from workflows import tasks_service
from workflows.models import FAR_FUTURE, Task, TaskKind

from . import selectors
from . import serializers as s
from .errors import (
    ConflictSerializer,
    DetailSerializer,
    ThrottledSerializer,
    ValidationErrorSerializer,
    exception_handler,
)
from .pagination import ApiCursorPagination

# --- documented errors -----------------------------------------------------------------------

ERRORS = {
    400: OpenApiResponse(ValidationErrorSerializer, description="Invalid input: `errors` by field."),
    401: OpenApiResponse(DetailSerializer, description="No valid credentials (`WWW-Authenticate: Token`)."),
    403: OpenApiResponse(DetailSerializer, description="The caller may see the object but not do this."),
    404: OpenApiResponse(DetailSerializer, description="Not found, or not visible to the caller (never told apart)."),
    409: OpenApiResponse(
        ConflictSerializer,
        description="Not possible now (state, unmet conditions, concurrent change): `unmet` says why.",
    ),
    429: OpenApiResponse(ThrottledSerializer, description="Too many attempts; see `Retry-After`."),
}


def responses(ok: dict[Any, Any], *codes: int) -> dict[Any, Any]:
    out = dict(ok)
    for code in (401, *codes):
        out[code] = ERRORS[code]
    return out


def paged(serializer: type[serializers.Serializer], *codes: int) -> dict[Any, Any]:
    return responses({200: serializer(many=True)}, 400, *codes)


PDF = OpenApiResponse(OpenApiTypes.BINARY, description="The PDF (`application/pdf`).")


def _choice(name: str, choices: list[tuple[str, Any]] | list[str], description: str) -> OpenApiParameter:
    values = [c[0] if isinstance(c, tuple) else c for c in choices]
    return OpenApiParameter(name, str, OpenApiParameter.QUERY, required=False, enum=values, description=description)


APPLICATION_PARAM = OpenApiParameter(
    "application", OpenApiTypes.UUID, OpenApiParameter.QUERY, required=False, description="Only this application's."
)


# --- base ------------------------------------------------------------------------------------


class ApiView(APIView):
    """JSON in, JSON out, and the one error mapping of ``api.errors``. (A plain APIView:
    DRF's OPTIONS metadata would ask a GenericAPIView for a serializer class it has not.)"""

    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    # Lists: read by ``paginate`` and by drf-spectacular (the paginated response schema).
    pagination_class: type[ApiCursorPagination] | None = None

    def get_exception_handler(self) -> Any:
        return exception_handler

    def paginate(self, queryset: QuerySet[Any], serializer: type[serializers.Serializer]) -> Response:
        assert self.pagination_class is not None
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer(page, many=True).data)


def _body(request: Request) -> dict[str, Any]:
    """The JSON body as an object (a list or a scalar is a 400)."""
    data = request.data
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [_("Le corps de la requête doit être un objet JSON.")]})
    return data


def _validated(serializer_class: type[serializers.Serializer], request: Request, **kwargs: Any) -> dict[str, Any]:
    """Check the body's shape; return the fields it declares, *as sent*, for the domain."""
    data = _body(request)
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    names: list[str] = list(serializer.fields)  # type: ignore[arg-type]
    return {name: data[name] for name in names if name in data}


def _uuid_param(request: Request, name: str) -> uuid.UUID | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise ValidationError({name: [_("Identifiant de dossier invalide.")]}) from None


def _choice_param(request: Request, name: str, choices: list[str]) -> str | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw not in choices:
        raise ValidationError(
            {name: [_("Valeur inconnue ; valeurs possibles : %(list)s.") % {"list": ", ".join(choices)}]}
        )
    return raw


def _filtered(request: Request, qs: QuerySet[Any], states: list[str], *, by_application: bool = False) -> QuerySet[Any]:
    """The list filters shared by the endpoints: ``?state=`` (checked against the machine's
    states: 400 otherwise) and, where offered, ``?application=`` (a UUID)."""
    state = _choice_param(request, "state", states)
    if state:
        qs = qs.filter(state=state)
    if by_application:
        application = _uuid_param(request, "application")
        if application:
            qs = qs.filter(application_id=application)
    return qs


def _pdf_response(document: Document) -> FileResponse:
    # The download name is built from the system's reference, never from user text.
    filename = f"{document.reference or 'document'}-{document.kind}.pdf"
    response = FileResponse(
        document.file.open("rb"), content_type="application/pdf", as_attachment=True, filename=filename
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@csrf_exempt  # it changes nothing: a POST to an unknown path is a 404, not a CSRF page
def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any other path under /api/: a JSON 404 (never an HTML page)."""
    return JsonResponse({"detail": _("Introuvable.")}, status=404)


# --- auth ------------------------------------------------------------------------------------


class TokenView(ApiView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_scope = "token"  # the wording of its 429 (api.errors.throttled_message)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_token",
        summary="Get an API token",
        description="Exchange a username and password for a new token; then send `Authorization: Token <token>`. "
        "Each sign-in gives a new token, valid until `expiry` (10 hours by default) or until revoked "
        "(`auth/logout/`, `auth/logoutall/`, or a password change). Failed attempts count per username and "
        "client address, as on the web sign-in: after 10 within 15 minutes that pair is refused, even with "
        "the right password, with 429 and `Retry-After`. An account with a second factor adds `otp`, the "
        "current code of its authenticator app (an account whose role requires one and has none is refused "
        "until it is enabled on the web).",
        request=s.TokenRequestSerializer,
        responses={200: s.TokenSerializer, 400: ERRORS[400], 429: ERRORS[429]},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = _validated(s.TokenRequestSerializer, request)
        django_request = request._request
        user = authenticate(django_request, username=data["username"], password=data["password"])
        if user is None:
            if getattr(django_request, "axes_locked_out", False):
                from security.lockout import retry_after

                raise Throttled(wait=retry_after(django_request, {"username": data["username"]}))
            raise ValidationError({"non_field_errors": [_("Identifiant ou mot de passe incorrect.")]})
        refused = second_factor.check_api_sign_in(user, data.get("otp"))
        if refused:
            raise ValidationError(refused)
        instance, token = tokens.issue(user)
        # As a web sign-in: last_login, and the lockout counter of this pair cleared.
        user_logged_in.send(sender=type(user), request=django_request, user=user)
        return Response({"token": token, "expiry": instance.expiry})


class TokenPagination(ApiCursorPagination):
    ordering = ("-created",)


class TokenListView(ApiView):
    pagination_class = TokenPagination

    @extend_schema(
        tags=["auth"],
        operation_id="auth_tokens_list",
        summary="The caller's API tokens",
        description="The caller's tokens still valid: when each was made and until when it works, and the first "
        "characters of each (never the token itself, which is not kept).",
        responses=paged(s.TokenInfoSerializer),
    )
    def get(self, request: Request) -> Response:
        current = getattr(request.auth, "digest", None)
        qs = (
            AuthToken.objects.filter(user=request.user)
            .filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))
            .annotate(
                prefix=Substr("token_key", 1, 8),
                current=Case(When(digest=current, then=Value(True)), default=Value(False), output_field=BooleanField()),
            )
        )
        return self.paginate(qs, s.TokenInfoSerializer)


class LogoutView(ApiView):
    authentication_classes = [tokens.TokenAuthentication]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_logout",
        summary="Revoke this token",
        description="The token sent with this request stops working at once.",
        request=None,
        responses=responses({204: None}),
    )
    def post(self, request: Request) -> Response:
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(ApiView):
    @extend_schema(
        tags=["auth"],
        operation_id="auth_logout_all",
        summary="Revoke every token of the caller",
        description="Every API token of the caller stops working at once (a signed-in browser session stays).",
        request=None,
        responses=responses({204: None}),
    )
    def post(self, request: Request) -> Response:
        AuthToken.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- calls -----------------------------------------------------------------------------------


CALL_WRITE_DESCRIPTION = """\
Only in `draft`; while `published`, only `closes_at` may change, and only to a later date
(the authorities with a draft on the call are told); anything else is a 409 with the
reason. Rates are fractions (`"0.7"` is 70 %), amounts decimal strings in euros, dates
ISO 8601 (Paris time without an offset). `questions`, when given, replaces the call's
questions ({code, label, label_en, help, help_en, type, choices, required, min, max}, in
order); a code used twice is a 400. Send back the `version` read: if the call changed
since, the save is refused (409) and nothing is overwritten."""


class CallPagination(ApiCursorPagination):
    ordering = ("-opens_at",)


class CallListView(ApiView):
    pagination_class = CallPagination

    @extend_schema(
        tags=["calls"],
        operation_id="calls_list",
        summary="Calls for projects",
        description="Calls visible to the caller (drafts only for the delegation and admins), with their rule "
        "settings, `required_attachments` and `scoring_criteria`.",
        parameters=[_choice("state", Call.State.choices, "Only calls in this state.")],
        responses=paged(s.CallSerializer),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.visible_calls(request.user)
        qs = _filtered(request, qs, Call.State.values)
        return self.paginate(qs, s.CallSerializer)

    @extend_schema(
        tags=["calls"],
        operation_id="calls_create",
        summary="Create a call (admin, instructor for every call)",
        description=CALL_WRITE_DESCRIPTION
        + "\n\nCreated in `draft`. `code`, `title`, `opens_at` and `closes_at` are required; every other "
        "setting defaults to the 2025 generalist call's. With `duplicate_of`, every setting, criterion, "
        "required attachment and question of that call is copied (then `code` and `title` only are read).",
        request=s.CallCreateSerializer,
        responses=responses({201: s.CallSerializer}, 400, 403, 404),
    )
    def post(self, request: Request) -> Response:
        data = _validated(s.CallCreateSerializer, request)
        source = data.pop("duplicate_of", None)
        if source:
            call = services.call_duplicate(
                source_code=str(source),
                user=request.user,
                code=str(data.get("code") or ""),
                title=str(data.get("title") or ""),
            )
        else:
            call = services.call_create(user=request.user, data=data)
        return Response(_call_body(request.user, call.code), status=status.HTTP_201_CREATED)


class CallDetailView(ApiView):
    @extend_schema(
        tags=["calls"],
        operation_id="calls_retrieve",
        summary="One call, by code",
        responses=responses({200: s.CallSerializer}, 404),
    )
    def get(self, request: Request, code: str) -> Response:
        call = selectors.visible_calls(request.user).filter(code=code).first()
        if call is None:
            raise selectors.not_found()
        return Response(s.CallSerializer(call).data)

    @extend_schema(
        tags=["calls"],
        operation_id="calls_partial_update",
        summary="Edit a call (admin, instructor of the call)",
        description=CALL_WRITE_DESCRIPTION,
        request=s.CallUpdateSerializer,
        responses=responses({200: s.CallSerializer}, 400, 403, 404, 409),
    )
    def patch(self, request: Request, code: str) -> Response:
        data = _validated(s.CallUpdateSerializer, request, partial=True)
        services.call_update(code=code, user=request.user, data=data)
        return Response(_call_body(request.user, code))


class CallTransitionView(ApiView):
    @extend_schema(
        tags=["calls"],
        operation_id="calls_transition",
        summary="Publish, close or archive a call (admin, instructor of the call)",
        description="`publish` (from `draft`) refuses a call whose settings are incomplete or inconsistent with "
        "a 409 listing every reason in `unmet`; `close` (from `published`); `archive` (from `closed`, once no "
        "application is still being processed).",
        request=None,
        responses=responses({200: s.CallSerializer}, 403, 404, 409),
    )
    def post(self, request: Request, code: str, name: str) -> Response:
        services.call_transition(code=code, name=name, user=request.user)
        return Response(_call_body(request.user, code))


def _call_body(user: Any, code: str) -> dict[str, Any]:
    call = selectors.visible_calls(user).filter(code=code).first()
    if call is None:
        raise selectors.not_found()
    return s.CallSerializer(call).data  # type: ignore[return-value]


# --- applications ----------------------------------------------------------------------------


class ApplicationPagination(ApiCursorPagination):
    """Keyset pagination in the list's ordering (``grants.search.window``, shared with the
    staff list): ``next`` and ``previous`` links, never OFFSET, never COUNT; a cursor is
    only valid with the ordering that made it (else 400 on ``cursor``)."""

    ordering = ("-created_at",)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request) or ApiCursorPagination.page_size
        ordering = getattr(view, "search_ordering", None) or search.ORDERINGS["-created_at"]
        try:
            self.window = search.window(
                queryset, ordering, request.query_params.get(self.cursor_query_param) or None, self.page_size
            )
        except search.InvalidCursor:
            raise ValidationError({self.cursor_query_param: [_("Curseur de pagination invalide.")]}) from None
        return self.window.rows

    def _link(self, token: str | None) -> str | None:
        return replace_query_param(self.base_url or "", self.cursor_query_param, token) if token else None

    def get_next_link(self) -> str | None:
        return self._link(self.window.next_cursor)

    def get_previous_link(self) -> str | None:
        return self._link(self.window.previous_cursor)


def _text_param(name: str, description: str, type_: Any = str) -> OpenApiParameter:
    return OpenApiParameter(name, type_, OpenApiParameter.QUERY, required=False, description=description)


#: The list's filters: ``grants.search.parse_filters`` reads them (the staff list's too).
APPLICATION_FILTERS = [
    _text_param(
        "q",
        "Full-text search over the reference, title, summary, objectives, the lead and co-applicant "
        "authorities (names, SIREN) and the partners' names; case and accents ignored, every word must "
        "match (French stemming on PostgreSQL). A reference or a SIREN typed whole comes first. At most 200 "
        "characters.",
    ),
    _choice("state", Application.State.choices, "Only applications in this state."),
    _text_param("call", "A call's code."),
    _text_param("country", "A project country (ISO 3166 alpha-2, e.g. `SN`)."),
    _text_param("region", "The French region (INSEE code, e.g. `84`) of the lead authority."),
    _text_param("organisation", "An authority, lead or co-applicant: its id, or its SIREN (9 digits)."),
    _text_param("requested_min", "Requested amount at least (euros, decimal string)."),
    _text_param("requested_max", "Requested amount at most (euros, decimal string)."),
    _text_param("granted_min", "Granted amount at least (an approval visible to the caller)."),
    _text_param("granted_max", "Granted amount at most (an approval visible to the caller)."),
    _text_param("submitted_from", "Submitted on or after this day (Paris time).", OpenApiTypes.DATE),
    _text_param("submitted_to", "Submitted on or before this day (Paris time).", OpenApiTypes.DATE),
    _text_param("decided_from", "Decided on or after this day (a decision visible to the caller).", OpenApiTypes.DATE),
    _text_param("decided_to", "Decided on or before this day (a decision visible to the caller).", OpenApiTypes.DATE),
    OpenApiParameter(
        "overdue",
        str,
        OpenApiParameter.QUERY,
        required=False,
        enum=["1", "0"],
        description="`1`: only applications with an open task past its due date.",
    ),
    _choice(
        "ordering",
        list(search.ORDERINGS),
        "Sort order; `-` for descending. Default: `relevance` with `q`, else `-created_at`. "
        "`relevance` without `q` is `-created_at`.",
    ),
]


APPLICATION_DESCRIPTION = """\
The application body: the fields of the creation body, plus `id`, `reference`, `state`,
`state_label` (in the caller's language), `available_transitions` (what the caller may
fire now), `blocked_transitions` (what it could fire once the listed conditions are met),
`history`, `documents`, `attachments` and, when visible to the caller, `decision`.

`history` is the transition log filtered to what the caller may see: the delegation sees
everything; an applicant sees the application's own transitions (the delegation's internal
comments blanked, staff shown by role) and its decision's once delivered, never opinions
or reviews; an embassy or prefecture sees the application's transitions and its own
opinion requests', never reviews; a reviewer sees the application's transitions, the
opinions and its own review's."""


class ApplicationListView(ApiView):
    pagination_class = ApplicationPagination

    @extend_schema(
        tags=["applications"],
        operation_id="applications_list",
        summary="Applications visible to the caller",
        description="Newest first, or in the order asked for. A summary per application; "
        "`GET /applications/{id}/` gives the full body. The filters mean what they mean on the staff list "
        "(`/dossiers/`); a bad value is a 400 naming the parameter.",
        parameters=APPLICATION_FILTERS,
        responses=paged(s.ApplicationSummarySerializer),
    )
    def get(self, request: Request) -> Response:
        try:
            filters = search.parse_filters(request.query_params)
        except search.FilterError as error:
            raise ValidationError(error.errors) from None
        self.search_ordering = search.ordering_for(filters, fallback="-created_at")
        return self.paginate(selectors.application_list(request.user, filters), s.ApplicationSummarySerializer)

    @extend_schema(
        tags=["applications"],
        operation_id="applications_create",
        summary="Create a draft (applicant)",
        description="Creates an application in state `draft` for the caller's authority. Amounts are decimal "
        "strings in euros. The budget rules are checked at submission, not here.\n\n" + APPLICATION_DESCRIPTION,
        request=s.ApplicationCreateSerializer,
        responses=responses({201: s.ApplicationSerializer}, 400, 403),
    )
    def post(self, request: Request) -> Response:
        data = _validated(s.ApplicationCreateSerializer, request)
        app = drafts.application_create(user=request.user, data=data)
        body = s.ApplicationSerializer(selectors.application_detail(request.user, app.pk)).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class ApplicationDetailView(ApiView):
    @extend_schema(
        tags=["applications"],
        operation_id="applications_retrieve",
        summary="One application",
        description=APPLICATION_DESCRIPTION,
        responses=responses({200: s.ApplicationSerializer}, 403, 404),
    )
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        return Response(s.ApplicationSerializer(selectors.application_detail(request.user, pk)).data)

    @extend_schema(
        tags=["applications"],
        operation_id="applications_partial_update",
        summary="Edit a draft or an application to complete (applicant)",
        description="Any subset of the writable fields. Only in `draft` or `incomplete` (else 409). "
        "Read-only fields (`id`, `reference`, `state`, `history`, `decision`, `documents`, …) are ignored, "
        "never applied. `partners`, `countries` and `budget.lines`, when given, replace the previous lists.",
        request=s.ApplicationUpdateSerializer,
        responses=responses({200: s.ApplicationSerializer}, 400, 403, 404, 409),
    )
    def patch(self, request: Request, pk: uuid.UUID) -> Response:
        selectors.visible_application(request.user, pk)
        data = _validated(s.ApplicationUpdateSerializer, request, partial=True)
        drafts.application_update(application_id=pk, user=request.user, data=data)
        return Response(s.ApplicationSerializer(selectors.application_detail(request.user, pk)).data)


class AttachmentListView(ApiView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=["applications"],
        operation_id="applications_attachments_create",
        summary="Attach a file (applicant)",
        description="Multipart `kind` and `file`. The content is recognised from its bytes (PDF, ODT, ODS, DOCX, "
        "XLSX, PNG, JPEG), never from its name or declared type; at most `UPLOAD_MAX_BYTES` (20 MB by "
        "default, else 400 on `file`). The file is stored under a generated name; its original name is "
        "kept as display text only. A required kind (agreement, resolution, budget) replaces the previous "
        "file of that kind. Only in `draft` or `incomplete` (else 409).",
        request={"multipart/form-data": s.AttachmentUploadSerializer},
        responses=responses({201: s.AttachmentSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        selectors.visible_application(request.user, pk)
        upload = request.FILES.get("file")
        kind = request.data.get("kind") if hasattr(request.data, "get") else None
        errors: dict[str, list[str]] = {}
        if not kind:
            errors["kind"] = [_("Ce champ est obligatoire.")]
        if upload is None:
            errors["file"] = [_("Joignez un fichier.")]
        elif upload.size is not None and upload.size > settings.UPLOAD_MAX_BYTES:
            errors["file"] = [
                _("Le fichier dépasse la taille maximale de %(mb)s Mo.")
                % {"mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024)}
            ]
        if errors:
            raise ValidationError(errors)
        assert upload is not None
        member = request.data.get("member") if hasattr(request.data, "get") else None
        attachment = drafts.attachment_add(
            application_id=pk,
            user=request.user,
            kind=str(kind),
            name=upload.name or "",
            content=upload.read(),
            member=member,
        )
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentDetailView(ApiView):
    @extend_schema(
        tags=["applications"],
        operation_id="applications_attachments_destroy",
        summary="Remove an attachment (applicant)",
        description="Only in `draft` or `incomplete` (else 409).",
        responses=responses({204: None}, 403, 404, 409),
    )
    def delete(self, request: Request, pk: uuid.UUID, attachment_id: int) -> Response:
        app = selectors.visible_application(request.user, pk)
        if not Attachment.objects.filter(pk=attachment_id, application=app).exists():
            raise selectors.not_found()
        drafts.attachment_remove(attachment_id=attachment_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttachmentFileView(ApiView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return (JSONRenderer(), "application/json")

    @extend_schema(
        tags=["applications"],
        operation_id="applications_attachments_file",
        summary="Download an attachment",
        description="The file as uploaded, with its sniffed content type.",
        responses=responses({(200, "application/octet-stream"): OpenApiTypes.BINARY}, 404),
    )
    def get(self, request: Request, pk: uuid.UUID, attachment_id: int) -> FileResponse:
        app = selectors.readable_application(request.user, pk)
        attachment = Attachment.objects.filter(pk=attachment_id, application=app).first()
        if attachment is None or not attachment.file:
            raise selectors.not_found()
        try:
            response = attachment_response(attachment, stem=f"{attachment.kind}-{attachment.pk}")
        except Http404:
            raise selectors.not_found() from None
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ApplicationDocumentView(ApiView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return (JSONRenderer(), "application/json")

    @extend_schema(
        tags=["applications"],
        operation_id="applications_documents_pdf",
        summary="Download an issued document (receipt, notice, letter)",
        responses=responses({(200, "application/pdf"): PDF}, 404),
    )
    def get(self, request: Request, pk: uuid.UUID, code: str) -> FileResponse:
        app = selectors.readable_application(request.user, pk)
        return _pdf_response(selectors.visible_document(request.user, app, code))


def transitions_table() -> str:
    """The table of the application's transitions for the API reference, from the
    catalogue (states from the machine itself, roles and body from each Spec)."""
    field = Application._meta.get_field("state")
    edges: dict[str, tuple[set[str], str]] = {}
    for transition in field.get_all_transitions(Application):  # type: ignore[attr-defined]
        sources, _target = edges.setdefault(transition.name, (set(), str(transition.target)))
        sources.add(str(transition.source))
    rows = ["| name | from → to | by | body |", "|---|---|---|---|"]
    for name, spec in services.APPLICATION_TRANSITIONS.items():
        sources, target = edges[name]
        body = ", ".join(f"`{f.name}`" + (" (required)" if f.required else "") for f in spec.fields) or "none"
        roles = ", ".join(r for r in spec.roles if r != "system")
        rows.append(f"| `{name}` | {', '.join(sorted(sources))} → {target} | {roles} | {body} |")
    return "\n".join(rows) + "\n"


TRANSITIONS_TABLE = transitions_table()


class TransitionView(ApiView):
    @extend_schema(
        tags=["applications"],
        operation_id="applications_transition",
        summary="Fire a transition",
        description="Runs the transition through the one transition service, in one transaction. "
        "400: a payload field is missing or invalid; 403: the caller sees the application but may not "
        "fire this; 404: not visible, or unknown transition; 409: not possible in the current state, "
        "conditions unmet (`unmet` lists them), or a concurrent change.\n\n" + TRANSITIONS_TABLE,
        parameters=[
            OpenApiParameter("name", str, OpenApiParameter.PATH, enum=s.TRANSITION_NAMES, description="The transition.")
        ],
        request=s.TransitionPayloadSerializer,
        responses=responses({200: s.ApplicationSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, pk: uuid.UUID, name: str) -> Response:
        selectors.visible_application(request.user, pk)
        if name not in services.APPLICATION_TRANSITIONS:
            raise selectors.not_found()
        payload = _validated(s.TransitionPayloadSerializer, request)
        services.application_transition(application_id=pk, name=name, user=request.user, payload=payload)
        return Response(s.ApplicationSerializer(selectors.application_detail(request.user, pk)).data)


class ReviewerAssignView(ApiView):
    @extend_schema(
        tags=["applications"],
        operation_id="applications_reviewers_list",
        summary="Reviewers to assign, with their load and known conflicts (instructor)",
        description="Every reviewer of the call not yet assigned to the application, with its open reviews, "
        "next due date, overdue reviews and known conflicts; and the application's submitted reviews against the "
        "call's `min_reviews`. 403 unless the caller instructs the call.",
        responses=responses({200: s.ReviewerCandidatesSerializer}, 403, 404),
    )
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        return Response(s.ReviewerCandidatesSerializer(selectors.reviewer_candidates(request.user, pk)).data)

    @extend_schema(
        tags=["applications"],
        operation_id="applications_reviewers_create",
        summary="Assign a reviewer (instructor)",
        description="From `submitted` to `under_review`. The review starts `assigned`; its task opens when the "
        "application is under review.",
        request=s.ReviewerAssignSerializer,
        responses=responses({201: s.ReviewSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        selectors.visible_application(request.user, pk)
        data = _validated(s.ReviewerAssignSerializer, request)
        review = services.review_assign(application_id=pk, reviewer_username=data["reviewer"], user=request.user)
        review = selectors.review_list(request.user).filter(pk=review.pk).first() or review
        return Response(s.ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class ConsensusView(ApiView):
    @extend_schema(
        tags=["applications"],
        operation_id="applications_consensus_create",
        summary="Record the consensus of the reviews (instructor, secretary)",
        description="Once the call's `min_reviews` reviews are submitted (else 409 with the reason), in "
        "`under_review` or `in_committee`. `scores` default to the reviewers' means rounded to the whole "
        "point; `comment` is meant for the applicant, `internal_comment` stays with the delegation. Recording "
        "again corrects it. `schedule` requires it when the call's `consensus_required` is true.",
        request=s.ConsensusRecordSerializer,
        responses=responses({200: s.ConsensusSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        selectors.visible_application(request.user, pk)
        data = _validated(s.ConsensusRecordSerializer, request)
        consensus = services.consensus_record(
            application_id=pk,
            user=request.user,
            scores=data.get("scores"),
            comment=data.get("comment") or "",
            internal_comment=data.get("internal_comment") or "",
        )
        return Response(s.ConsensusSerializer(selectors.consensus_body(consensus)).data)


# --- tasks -----------------------------------------------------------------------------------


class TaskPagination(ApiCursorPagination):
    # Tasks without a due date come last: the position is the due date or a far-future stand-in.
    ordering = ("due_sort", "id")


class TaskListView(ApiView):
    pagination_class = TaskPagination

    @extend_schema(
        tags=["tasks"],
        operation_id="tasks_list",
        summary="The caller's inbox",
        description="Open tasks of the caller's queues (its roles and scopes), by due date (overdue first); "
        "tasks without a due date last.",
        parameters=[_choice("kind", TaskKind.choices, "Only tasks of this kind.")],
        responses=paged(s.TaskSerializer),
    )
    def get(self, request: Request) -> Response:
        far = Value(FAR_FUTURE, output_field=DateTimeField())
        qs = (
            tasks_service.inbox(request.user)
            .select_related("application", "assignee")
            .annotate(due_sort=Coalesce("due_at", far))
        )
        kind = _choice_param(request, "kind", TaskKind.values)
        if kind:
            qs = qs.filter(kind=kind)
        return self.paginate(qs, s.TaskSerializer)


def _task_body(user: Any, task_id: int) -> dict[str, Any]:
    task = Task.objects.select_related("application", "assignee").get(pk=task_id)
    return s.TaskSerializer(task).data  # type: ignore[return-value]


class TaskClaimView(ApiView):
    @extend_schema(
        tags=["tasks"],
        operation_id="tasks_claim",
        summary="Take a task",
        description="404: not in the caller's queues; 403: reserved to someone else; 409: taken or closed.",
        request=None,
        responses=responses({200: s.TaskSerializer}, 403, 404, 409),
    )
    def post(self, request: Request, task_id: int) -> Response:
        task = tasks_service.claim(task_id, user=request.user)
        return Response(_task_body(request.user, task.pk))


class TaskUnclaimView(ApiView):
    @extend_schema(
        tags=["tasks"],
        operation_id="tasks_unclaim",
        summary="Give a task back to its queue",
        description="404: not in the caller's queues; 403: reserved by the workflow; 409: not taken by the caller.",
        request=None,
        responses=responses({200: s.TaskSerializer}, 403, 404, 409),
    )
    def post(self, request: Request, task_id: int) -> Response:
        task = tasks_service.unclaim(task_id, user=request.user)
        return Response(_task_body(request.user, task.pk))


# --- opinions --------------------------------------------------------------------------------


class OpinionPagination(ApiCursorPagination):
    ordering = ("due_at", "id")


class OpinionListView(ApiView):
    pagination_class = OpinionPagination

    @extend_schema(
        tags=["opinions"],
        operation_id="opinions_list",
        summary="Opinion requests (embassy, prefecture)",
        description="The requests of the caller's countries (embassy) or region (prefecture); the delegation "
        "sees those of its calls. By due date.",
        parameters=[_choice("state", OpinionRequest.State.choices, "Only in this state."), APPLICATION_PARAM],
        responses=paged(s.OpinionSerializer),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.opinion_list(request.user)
        qs = _filtered(request, qs, OpinionRequest.State.values, by_application=True)
        return self.paginate(qs, s.OpinionSerializer)


class OpinionDetailView(ApiView):
    @extend_schema(
        tags=["opinions"],
        operation_id="opinions_retrieve",
        summary="One opinion request",
        responses=responses({200: s.OpinionSerializer}, 404),
    )
    def get(self, request: Request, opinion_id: int) -> Response:
        opinion = selectors.opinion_list(request.user).filter(pk=opinion_id).first()
        if opinion is None:
            raise selectors.not_found()
        return Response(s.OpinionSerializer(opinion).data)


class OpinionGiveView(ApiView):
    @extend_schema(
        tags=["opinions"],
        operation_id="opinions_give",
        summary="Give the opinion",
        description="`verdict` favorable, reserved or unfavorable; `comment` required unless favorable. "
        "When no request of the application is left open, the opinion phase closes by itself.",
        request=s.OpinionGiveSerializer,
        responses=responses({200: s.OpinionSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, opinion_id: int) -> Response:
        if not selectors.opinion_list(request.user).filter(pk=opinion_id).exists():
            raise selectors.not_found()
        data = _validated(s.OpinionGiveSerializer, request)
        services.opinion_give(
            opinion_id=opinion_id, user=request.user, verdict=data.get("verdict", ""), comment=data.get("comment", "")
        )
        return Response(s.OpinionSerializer(selectors.opinion_list(request.user).get(pk=opinion_id)).data)


# --- reviews ---------------------------------------------------------------------------------


class ReviewPagination(ApiCursorPagination):
    ordering = ("-assigned_at", "-id")


class ReviewListView(ApiView):
    pagination_class = ReviewPagination

    @extend_schema(
        tags=["reviews"],
        operation_id="reviews_list",
        summary="Reviews (reviewer: its own)",
        description="A reviewer sees its own reviews; the delegation those of its calls. Newest first.",
        parameters=[_choice("state", Review.State.choices, "Only in this state."), APPLICATION_PARAM],
        responses=paged(s.ReviewSerializer),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.review_list(request.user)
        qs = _filtered(request, qs, Review.State.values, by_application=True)
        return self.paginate(qs, s.ReviewSerializer)


def _visible_review(user: Any, review_id: int) -> Review:
    review = selectors.review_list(user).filter(pk=review_id).first()
    if review is None:
        raise selectors.not_found()
    return review


class ReviewDetailView(ApiView):
    @extend_schema(
        tags=["reviews"],
        operation_id="reviews_retrieve",
        summary="One review",
        responses=responses({200: s.ReviewSerializer}, 404),
    )
    def get(self, request: Request, review_id: int) -> Response:
        return Response(s.ReviewSerializer(_visible_review(request.user, review_id)).data)


class ReviewSubmitView(ApiView):
    @extend_schema(
        tags=["reviews"],
        operation_id="reviews_submit",
        summary="Submit the review (reviewer)",
        description="`scores`: every criterion of the call's grid, integers 0 to 5; `recommendation` yes, maybe "
        "or no; `comment`.",
        request=s.ReviewSubmitSerializer,
        responses=responses({200: s.ReviewSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, review_id: int) -> Response:
        _visible_review(request.user, review_id)
        payload = _validated(s.ReviewSubmitSerializer, request)
        services.review_submit(review_id=review_id, user=request.user, payload=payload)
        return Response(s.ReviewSerializer(_visible_review(request.user, review_id)).data)


class ReviewDeclineView(ApiView):
    @extend_schema(
        tags=["reviews"],
        operation_id="reviews_decline",
        summary="Decline the review (reviewer)",
        description="`reason` required (e.g. a conflict of interest).",
        request=s.ReasonSerializer,
        responses=responses({200: s.ReviewSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, review_id: int) -> Response:
        _visible_review(request.user, review_id)
        data = _validated(s.ReasonSerializer, request)
        services.review_decline(review_id=review_id, user=request.user, reason=data["reason"])
        return Response(s.ReviewSerializer(_visible_review(request.user, review_id)).data)


class ReviewDeclareView(ApiView):
    @extend_schema(
        tags=["reviews"],
        operation_id="reviews_declare",
        summary="Declare on conflict of interest (reviewer)",
        description="Before reading an assigned application, its reviewer declares the absence of conflict of "
        "interest: `{conflict: false}`, dated and logged (`declare`). Until then the application's detail, "
        "attachments, documents and the other reviews answer 403 with the reason. `{conflict: true, details}` "
        "declines the review (`details` is its reason) and tells the instructors, who may assign another "
        "reviewer. 409 if the review is no longer assigned or already declared.",
        request=s.ReviewDeclareSerializer,
        responses=responses({200: s.ReviewSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, review_id: int) -> Response:
        _visible_review(request.user, review_id)
        data = _validated(s.ReviewDeclareSerializer, request)
        services.review_declare(
            review_id=review_id, user=request.user, conflict=data["conflict"], details=data.get("details") or ""
        )
        return Response(s.ReviewSerializer(_visible_review(request.user, review_id)).data)


# --- committee sessions ----------------------------------------------------------------------


class SessionPagination(ApiCursorPagination):
    ordering = ("-date", "-id")
    position_field = models.DateField()


def _session_body(user: Any, session_id: int) -> dict[str, Any]:
    session = selectors.session_list(user).get(pk=session_id)
    session.ranking = selectors.session_ranking(user, session)  # type: ignore[attr-defined]
    return s.SessionDetailSerializer(session).data  # type: ignore[return-value]


class SessionListView(ApiView):
    pagination_class = SessionPagination

    @extend_schema(
        tags=["sessions"],
        operation_id="sessions_list",
        summary="Committee sessions",
        description="Sessions of the calls the caller runs (secretary) or instructs; admins see all.",
        parameters=[
            OpenApiParameter("call", str, OpenApiParameter.QUERY, required=False, description="A call's code."),
            _choice("state", CommitteeSession.State.choices, "Only in this state."),
        ],
        responses=paged(s.SessionSerializer),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.session_list(request.user)
        call = request.query_params.get("call")
        if call:
            qs = qs.filter(call__code=call)
        qs = _filtered(request, qs, CommitteeSession.State.values)
        return self.paginate(qs, s.SessionSerializer)

    @extend_schema(
        tags=["sessions"],
        operation_id="sessions_create",
        summary="Plan a committee session (secretary)",
        request=s.SessionCreateSerializer,
        responses=responses({201: s.SessionDetailSerializer}, 400, 403),
    )
    def post(self, request: Request) -> Response:
        data = _validated(s.SessionCreateSerializer, request)
        date = serializers.DateField().to_internal_value(data["date"])
        session = services.session_create(
            call_code=data["call"], date=date, user=request.user, title=str(data.get("title") or "")
        )
        return Response(_session_body(request.user, session.pk), status=status.HTTP_201_CREATED)


class SessionDetailView(ApiView):
    @extend_schema(
        tags=["sessions"],
        operation_id="sessions_retrieve",
        summary="One committee session",
        description="With `ranking`: the session's applications best first and the envelope line.",
        responses=responses({200: s.SessionDetailSerializer}, 404),
    )
    def get(self, request: Request, session_id: int) -> Response:
        if not selectors.session_list(request.user).filter(pk=session_id).exists():
            raise selectors.not_found()
        return Response(_session_body(request.user, session_id))


class SessionTransitionView(ApiView):
    name = ""

    def post(self, request: Request, session_id: int) -> Response:
        if not selectors.session_list(request.user).filter(pk=session_id).exists():
            raise selectors.not_found()
        services.session_transition(session_id=session_id, name=self.name, user=request.user)
        return Response(_session_body(request.user, session_id))


class SessionOpenView(SessionTransitionView):
    name = "open"

    @extend_schema(
        tags=["sessions"],
        operation_id="sessions_open",
        summary="Open the session (secretary)",
        request=None,
        responses=responses({200: s.SessionDetailSerializer}, 404, 409),
    )
    def post(self, request: Request, session_id: int) -> Response:
        return super().post(request, session_id)


class SessionCloseView(SessionTransitionView):
    name = "close"

    @extend_schema(
        tags=["sessions"],
        operation_id="sessions_close",
        summary="Close the session (secretary)",
        description="409 while a scheduled application has no decision.",
        request=None,
        responses=responses({200: s.SessionDetailSerializer}, 404, 409),
    )
    def post(self, request: Request, session_id: int) -> Response:
        return super().post(request, session_id)


# --- decisions -------------------------------------------------------------------------------


class DecisionPagination(ApiCursorPagination):
    ordering = ("-decided_at", "-id")


class DecisionListView(ApiView):
    pagination_class = DecisionPagination

    @extend_schema(
        tags=["decisions"],
        operation_id="decisions_list",
        summary="Decisions",
        description="Signatory: the decisions of its calls; finance: delivered and recorded ones; an applicant: "
        "its own, once delivered. Newest first.",
        parameters=[_choice("state", Decision.State.choices, "Only in this state."), APPLICATION_PARAM],
        responses=paged(s.DecisionSerializer),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.decision_list(request.user)
        qs = _filtered(request, qs, Decision.State.values, by_application=True)
        return self.paginate(qs, s.DecisionSerializer)


class DecisionDetailView(ApiView):
    @extend_schema(
        tags=["decisions"],
        operation_id="decisions_retrieve",
        summary="One decision",
        responses=responses({200: s.DecisionSerializer}, 404),
    )
    def get(self, request: Request, decision_id: int) -> Response:
        return Response(s.DecisionSerializer(selectors.visible_decision(request.user, decision_id)).data)


class DecisionSignView(ApiView):
    @extend_schema(
        tags=["decisions"],
        operation_id="decisions_sign",
        summary="Sign (signatory)",
        description="draft → signed. The letter is then rendered and delivered to the applicant and finance "
        "(state `delivered`) by a background job.",
        request=s.DecisionSignSerializer,
        responses=responses({200: s.DecisionSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, decision_id: int) -> Response:
        selectors.visible_decision(request.user, decision_id)
        data = _validated(s.DecisionSignSerializer, request)
        services.decision_sign(decision_id=decision_id, user=request.user, confirm=data.get("confirm"))
        return Response(s.DecisionSerializer(selectors.visible_decision(request.user, decision_id)).data)


class DecisionRecordView(ApiView):
    @extend_schema(
        tags=["decisions"],
        operation_id="decisions_record",
        summary="Record the budget commitment (finance)",
        description="delivered → recorded, with `commitment_number`.",
        request=s.CommitmentSerializer,
        responses=responses({200: s.DecisionSerializer}, 400, 403, 404, 409),
    )
    def post(self, request: Request, decision_id: int) -> Response:
        selectors.visible_decision(request.user, decision_id)
        data = _validated(s.CommitmentSerializer, request)
        services.decision_record(
            decision_id=decision_id, user=request.user, commitment_number=data["commitment_number"]
        )
        return Response(s.DecisionSerializer(selectors.visible_decision(request.user, decision_id)).data)


class DecisionPdfView(ApiView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return (JSONRenderer(), "application/json")

    @extend_schema(
        tags=["decisions"],
        operation_id="decisions_pdf",
        summary="The signed decision letter",
        description="404 while no letter has been rendered yet.",
        responses=responses({(200, "application/pdf"): PDF}, 404),
    )
    def get(self, request: Request, decision_id: int) -> FileResponse:
        decision = selectors.visible_decision(request.user, decision_id)
        document = getattr(decision, "document", None)
        if document is None or not document.file:
            raise selectors.not_found()
        return _pdf_response(document)
