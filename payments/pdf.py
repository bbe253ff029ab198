"""HTML to PDF with WeasyPrint, offline: fonts come from the system (fontconfig: Noto Sans CJK
from fonts-noto-cjk), and the URL fetcher refuses every URL but inline `data:` ones, so rendering
a document can never reach the network (nor read local files a template might name).

WeasyPrint is imported on first use, not when the URL map loads: only the proof download needs
it, and the import parses its default stylesheets."""

from __future__ import annotations

import logging

# WeasyPrint logs each rendering step at INFO ("Step 2 - Fetching and parsing CSS"); keep its
# warnings (a refused URL, a missing font) and drop the progress chatter.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def offline_fetcher():
    from weasyprint.urls import URLFetcher

    class OfflineURLFetcher(URLFetcher):
        """Refuses http(s), file and any other scheme; only `data:` URLs are read."""

        def fetch(self, url, headers=None):
            if not url.lower().startswith("data:"):
                raise ValueError(f"PDF rendering does not fetch {url!r}")
            return super().fetch(url, headers)

    return OfflineURLFetcher()


def pdf_from_html(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, base_url=None, url_fetcher=offline_fetcher()).write_pdf()
