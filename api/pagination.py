"""Cursor pagination for every list: stable under inserts, no COUNT query, and a
position parsed before it reaches the database (a forged cursor is a 400, never a 500)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request


class ApiCursorPagination(CursorPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering: Any = ("-created_at",)
    # The type of the first ordering field: the cursor's position is parsed with it.
    position_field: models.Field[Any, Any] = models.DateTimeField()

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [_("Curseur de pagination invalide.")]}) from None
        if cursor is not None and cursor.position is not None:
            try:
                parsed = self.position_field.to_python(cursor.position)
            except (DjangoValidationError, ValueError, TypeError, OverflowError):
                parsed = None
            if parsed is None:
                raise ValidationError({self.cursor_query_param: [_("Curseur de pagination invalide.")]})
        return cursor
