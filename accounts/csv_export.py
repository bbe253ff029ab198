"""CSV downloads for spreadsheets, the same for every app (the audit trail, statements, the
wallet's history, clearing batches): UTF-8 with a byte-order mark so that Excel opens the Chinese,
a header row, and text cells a spreadsheet will not run as a formula (OWASP "CSV injection").
Amounts are written by the caller as plain two-decimal strings (-50.00, 100.00), never through
`csv_safe`, so that a spreadsheet reads them as numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """A cell a spreadsheet will not run: text starting with = + - @ (or tab/CR) gets a '."""
    return f"'{value}" if value.startswith(FORMULA_START) else value


def csv_download(
    *, header: Sequence, rows: Iterable[Sequence[str]], file_stem: str
) -> HttpResponse:
    """The rows as an attachment named `<file_stem>-<local date>.csv`."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow([str(title) for title in header])
    writer.writerows(rows)
    response = HttpResponse(buffer.getvalue().encode("utf-8"), content_type="text/csv")
    stamp = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = content_disposition_header(True, f"{file_stem}-{stamp}.csv")
    return response


def local_stamp(value) -> str:
    """An instant as a CSV shows it: local time, to the second."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
