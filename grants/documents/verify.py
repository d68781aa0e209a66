"""Public verification of issued documents: ``/verify/<code>/`` (contract).

Anyone holding a document (a printed letter, its QR code) can check that it was issued:
the page shows its kind, reference, issue date (Europe/Paris) and SHA-256, and nothing
else (no amount, no personal data). ``?format=json`` gives exactly
``{kind, reference, issued_at, sha256}``. An unknown code is a 404, in both forms.

The optional file check hashes an uploaded PDF on the server (no script, nothing
stored; at most ``VERIFY_MAX_BYTES``) and says whether it is the issued file.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from grants.documents import issuing
from grants.models import Document

#: Issued PDFs are well under this; the check refuses bigger uploads before reading them.
VERIFY_MAX_BYTES = min(settings.UPLOAD_MAX_BYTES, 20 * 1024 * 1024)
TEMPLATE = "grants/documents/verify.html"


def _hash_check(request: HttpRequest, document: Document) -> dict[str, object]:
    """{ok: bool | None, message: str}: whether the uploaded file is the issued one."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > VERIFY_MAX_BYTES + 64 * 1024:  # multipart overhead
        return {"ok": None, "message": _("Ce fichier est trop volumineux pour être vérifié ici.")}
    upload = request.FILES.get("file")
    if upload is None:
        return {"ok": None, "message": _("Choisissez le fichier PDF à vérifier.")}
    if upload.size is not None and upload.size > VERIFY_MAX_BYTES:
        return {"ok": None, "message": _("Ce fichier est trop volumineux pour être vérifié ici.")}
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    computed = digest.hexdigest()
    if hmac.compare_digest(computed, document.sha256):
        return {"ok": True, "computed": computed, "message": _("Ce fichier est bien le document délivré.")}
    return {
        "ok": False,
        "computed": computed,
        "message": _("Ce fichier n'est pas le document délivré : son empreinte est différente."),
    }


@require_http_methods(["GET", "HEAD", "POST"])
def verify(request: HttpRequest, code: str) -> HttpResponse:
    document = issuing.find_by_code(code)
    as_json = request.GET.get("format") == "json"
    if document is None:
        message = _("Aucun document ne porte ce code de vérification.")
        if as_json:
            response: HttpResponse = JsonResponse({"detail": message}, status=404)
        else:
            response = render(request, TEMPLATE, {"document": None, "message": message}, status=404)
    elif as_json:
        response = JsonResponse(issuing.verification_data(document))
    else:
        check = _hash_check(request, document) if request.method == "POST" else None
        status = 400 if check is not None and check["ok"] is None else 200
        response = render(
            request,
            TEMPLATE,
            {"document": document, "check": check, "max_mb": VERIFY_MAX_BYTES // (1024 * 1024)},
            status=status,
        )
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


urlpatterns: list[URLPattern | URLResolver] = [
    path("verify/<str:code>/", verify, name="verify"),
]
