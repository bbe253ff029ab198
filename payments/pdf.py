"""The PDF helper moved to `accounts.pdf` (the lowest app, so family's letters can use it too);
this name stays for the premium proof's existing imports."""

from accounts.pdf import offline_fetcher, pdf_from_html

__all__ = ["offline_fetcher", "pdf_from_html"]
