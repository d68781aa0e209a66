"""Browsable documentation of the API at ``/api/docs/``, with no external asset.

The machines that run the product may have no internet access, and drf-spectacular's
Swagger UI and Redoc views load their JavaScript from a CDN. So:

* ``/api/docs/reference/`` is always a self-contained HTML page rendered on the server
  from the OpenAPI document (every operation, parameter, body, response and schema);
* ``/api/docs/`` serves Swagger UI from local static files when the
  ``drf-spectacular-sidecar`` package is installed and ``drf_spectacular_sidecar`` is in
  ``INSTALLED_APPS``; otherwise it is the self-contained page.

Everything shown comes from our own schema and is HTML-escaped by the template.
"""

from __future__ import annotations

import re
from typing import Any

from csp.constants import NONCE
from csp.decorators import csp_update
from django.apps import apps
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views import View
from drf_spectacular.views import SpectacularSwaggerView

METHODS = ("get", "post", "put", "patch", "delete")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def inline_markdown(text: str) -> SafeString:
    """Our own descriptions' **bold** and `code`, on text escaped first (nothing else is HTML)."""
    escaped = str(escape(text))
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    return mark_safe(escaped)  # noqa: S308 (escaped above; only our two tags added)


def _schema() -> dict[str, Any]:
    from .schema import build_schema

    return build_schema()


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(schema: dict[str, Any] | None) -> dict[str, Any]:
    """A short description of a schema: {text, ref} where ref names a component to link to."""
    if not schema:
        return {"text": "—", "ref": None}
    if "$ref" in schema:
        return {"text": _ref_name(schema["$ref"]), "ref": _ref_name(schema["$ref"])}
    if "allOf" in schema and len(schema["allOf"]) == 1:
        inner = type_of(schema["allOf"][0])
        if schema.get("nullable"):
            inner = {**inner, "text": f"{inner['text']} | null"}
        return inner
    for key in ("oneOf", "anyOf"):
        if key in schema:
            parts = [type_of(part)["text"] for part in schema[key]]
            return {"text": " | ".join(parts), "ref": None}
    kind = schema.get("type", "object")
    if kind == "array":
        inner = type_of(schema.get("items"))
        text = f"array of {inner['text']}"
        ref = inner["ref"]
    elif kind == "object" and "additionalProperties" in schema:
        inner = type_of(schema["additionalProperties"] if isinstance(schema["additionalProperties"], dict) else None)
        text = f"object of {inner['text']}"
        ref = inner["ref"]
    else:
        text = str(kind)
        if schema.get("format"):
            text += f" ({schema['format']})"
        ref = None
    if schema.get("enum"):
        text += ": " + ", ".join(str(v) for v in schema["enum"] if v not in ("", None))
    if schema.get("nullable"):
        text += " | null"
    return {"text": text, "ref": ref}


def _components(schema: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, body in sorted(schema.get("components", {}).get("schemas", {}).items()):
        required = set(body.get("required", []))
        properties = [
            {
                "name": prop,
                "type": type_of(spec),
                "required": prop in required,
                "read_only": spec.get("readOnly", False),
                "description": inline_markdown(spec.get("description", "")),
            }
            for prop, spec in body.get("properties", {}).items()
        ]
        out.append(
            {
                "name": name,
                "description": inline_markdown(body.get("description", "")),
                "properties": properties,
                "type": type_of({k: v for k, v in body.items() if k != "description"}) if not properties else None,
            }
        )
    return out


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for route, item in schema.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            bodies = [
                {"media": media, "type": type_of(content.get("schema"))}
                for media, content in op.get("requestBody", {}).get("content", {}).items()
            ]
            responses = []
            for code, response in op.get("responses", {}).items():
                content = response.get("content", {})
                responses.append(
                    {
                        "code": code,
                        "description": inline_markdown(response.get("description", "")),
                        "types": [{"media": m, "type": type_of(c.get("schema"))} for m, c in content.items()],
                    }
                )
            parameters = [
                {
                    "name": p["name"],
                    "in": p["in"],
                    "required": p.get("required", False),
                    "type": type_of(p.get("schema")),
                    "description": inline_markdown(p.get("description", "")),
                }
                for p in op.get("parameters", [])
            ]
            tag = (op.get("tags") or ["api"])[0]
            groups.setdefault(tag, []).append(
                {
                    "id": op.get("operationId", f"{method}-{route}"),
                    "method": method.upper(),
                    "path": route,
                    "summary": op.get("summary", ""),
                    "description": inline_markdown(op.get("description", "")),
                    "parameters": parameters,
                    "bodies": bodies,
                    "responses": responses,
                    "public": op.get("security") == [{}] or any(not s for s in op.get("security", [{"x": []}])),
                }
            )
    return [{"tag": tag, "operations": ops} for tag, ops in groups.items()]


class ReferenceView(View):
    """The self-contained reference page."""

    def get(self, request: HttpRequest) -> HttpResponse:
        schema = _schema()
        info = schema.get("info", {})
        return render(
            request,
            "api/docs.html",
            {
                "info": info,
                "description": inline_markdown(info.get("description", "")),
                "groups": _operations(schema),
                "components": _components(schema),
                "swagger": sidecar_installed(),
            },
        )


def sidecar_installed() -> bool:
    return apps.is_installed("drf_spectacular_sidecar")


class SidecarSwaggerView(SpectacularSwaggerView):
    """Swagger UI served from drf-spectacular-sidecar's static files (no CDN)."""

    url_name = "api:schema"
    template_name = "api/swagger_ui.html"  # a nonce on its inline style and script

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        return static(f"drf_spectacular_sidecar/swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon() -> str:
        return static("drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png")


_reference = ReferenceView.as_view()
_swagger = SidecarSwaggerView.as_view()


# Swagger UI's own policy, this page only: its inline style carries the nonce, which the
# site-wide style-src ('self') does not accept.
@csp_update({"style-src": [NONCE]})
def docs_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
    if sidecar_installed():
        return _swagger(request, *args, **kwargs)  # type: ignore[no-any-return]
    return _reference(request, *args, **kwargs)
