"""The one reading of SOURCE_DATE_EPOCH (reproducible-builds.org): the date a build states, never the clock."""
from __future__ import annotations

import os
from datetime import datetime, timezone

from bubblelens.core.errors import UsageError

SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


def source_date() -> datetime | None:
    """SOURCE_DATE_EPOCH as a UTC datetime, None when unset; a malformed value is a usage error."""
    text = os.environ.get(SOURCE_DATE_EPOCH, "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise UsageError(f"{SOURCE_DATE_EPOCH} must be whole seconds since 1970, not {text!r}")
    return datetime.fromtimestamp(int(text), tz=timezone.utc)
