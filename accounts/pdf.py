"""HTML to PDF with WeasyPrint, offline, with the portal's own Chinese font.

Chinese must come out the same on a fresh machine with no font installed, so the documents name
the bundled subset of Noto Sans SC (`static/fonts/`, SIL OFL 1.1) in `@font-face` rules
(`templates/partials/pdf_fonts.html`, family "Portal Sans SC") instead of relying on fontconfig.

The URL fetcher never reaches the network nor reads arbitrary files: it serves inline `data:` URLs
and, under the private scheme `portal-font:<name>`, exactly the files of `static/fonts/` (a bare
file name listed in that directory; no path, no traversal). Every other URL is refused.

This module lives in the lowest app (accounts) so that family (letters) and payments (premium
proofs) both use it. WeasyPrint is imported on first use, not when the URL map loads: only the
PDF downloads need it, and the import parses its default stylesheets."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

FONT_SCHEME = "portal-font:"
FONT_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"
FONT_TYPES = {".otf": "font/otf", ".ttf": "font/ttf", ".woff": "font/woff", ".woff2": "font/woff2"}

# WeasyPrint logs each rendering step at INFO ("Step 2 - Fetching and parsing CSS"); keep its
# warnings (a refused URL, a missing font) and drop the progress chatter.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def bundled_font_names() -> frozenset[str]:
    """The font files the fetcher may serve: those in static/fonts/, by bare name."""
    if not FONT_DIR.is_dir():
        return frozenset()
    return frozenset(
        path.name
        for path in FONT_DIR.iterdir()
        if path.is_file() and path.suffix.lower() in FONT_TYPES
    )


@functools.lru_cache(maxsize=8)
def _font_bytes(name: str) -> bytes:
    return (FONT_DIR / name).read_bytes()


def bundled_font(url: str) -> tuple[str, bytes]:
    """(content type, bytes) of a `portal-font:<name>` URL; ValueError for any other name."""
    name = url[len(FONT_SCHEME) :]
    if name not in bundled_font_names():
        raise ValueError(f"PDF rendering does not fetch {url!r}: not a bundled font")
    return FONT_TYPES[Path(name).suffix.lower()], _font_bytes(name)


def offline_fetcher():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class OfflineURLFetcher(URLFetcher):
        """Refuses http(s), file and any other scheme; reads `data:` URLs and bundled fonts."""

        def fetch(self, url, headers=None):
            if url.lower().startswith(FONT_SCHEME):
                content_type, body = bundled_font(url)
                return URLFetcherResponse(url, body, {"Content-Type": content_type})
            if not url.lower().startswith("data:"):
                raise ValueError(f"PDF rendering does not fetch {url!r}")
            return super().fetch(url, headers)

    return OfflineURLFetcher()


def pdf_from_html(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, base_url=None, url_fetcher=offline_fetcher()).write_pdf()
