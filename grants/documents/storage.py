"""Writing a new file to the media storage (issued PDFs, uploaded attachments).

Django's ``FileSystemStorage`` keeps whatever it managed to write when a write fails: on
a full volume (ENOSPC) that is a truncated file nobody points at, holding the very space
that is missing. ``save_new_file`` removes it, so a failed write leaves neither a row
nor a file behind.
"""

from __future__ import annotations

import logging

from django.core.files.base import File
from django.db.models.fields.files import FieldFile

logger = logging.getLogger(__name__)


def save_new_file(field_file: FieldFile, filename: str, content: File) -> None:
    """``field_file.save(filename, content, save=False)``, minus the partial file on failure.

    The name is chosen first (``upload_to`` generates a random one, which
    ``get_available_name`` checks is free), so a file found under it after a failed
    write is this write's own and is deleted.
    """
    field = field_file.field
    storage = field_file.storage
    name = storage.get_available_name(
        field.generate_filename(field_file.instance, filename), max_length=field.max_length
    )
    try:
        stored = storage.save(name, content, max_length=field.max_length)
    except BaseException:
        try:
            if storage.exists(name):
                storage.delete(name)
        except OSError:
            logger.warning("could not remove the partial file %s", name, exc_info=True)
        raise
    # What FieldFile.save does once the storage has the file.
    field_file.name = stored
    setattr(field_file.instance, field.attname, stored)
    field_file._committed = True  # type: ignore[attr-defined]
