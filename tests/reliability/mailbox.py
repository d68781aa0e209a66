"""An e-mail backend for the reliability tests: each message becomes one JSON line
appended to ``settings.RELIABILITY_MAILBOX`` (one ``O_APPEND`` write per batch, so
workers, relays and web processes can share the file). The line names the Notification
the message was built from (its "open" link), so a test counts e-mails per outbox row."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

OPEN_LINK = re.compile(r"/notifications/(\d+)/")


def _text(message: Any) -> str:
    parts = [str(message.body)]
    parts.extend(str(content) for content, _mime in getattr(message, "alternatives", []) or [])
    return "\n".join(parts)


class AppendBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[Any]) -> int:
        lines = []
        for message in email_messages:
            match = OPEN_LINK.search(_text(message))
            lines.append(
                json.dumps(
                    {
                        "to": list(message.to),
                        "subject": str(message.subject),
                        "notification": int(match.group(1)) if match else None,
                        "attachments": len(message.attachments),
                        "pid": os.getpid(),
                        "at": time.time(),
                    }
                )
            )
        if lines:
            fd = os.open(settings.RELIABILITY_MAILBOX, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, ("\n".join(lines) + "\n").encode())
            finally:
                os.close(fd)
        return len(lines)
