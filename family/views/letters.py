"""Printing signed commitment letters (issue 7, R7): the print view and the PDF download for the
holder (their own letters) and for staff (letters of holders in their regions), and the public
check page `/verify/<code>`.

Thin views: the selectors scope and fetch (404 for a letter that is not the caller's), and
`family.letter_print` lays the stored letter out; nothing here renders a letter's text again."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import TemplateView
from django_ratelimit.decorators import ratelimit

from accounts.staff import StaffRequiredMixin

from .. import letter_print, selectors

VIEW_LETTER = "family.view_commitmentletter"
# Per client address. Codes are 12 characters of 31 (about 10^18), so guessing one is hopeless
# anyway; the limit keeps anyone from trying at scale, while a counter checking a pile of printed
# letters by QR code stays well below it.
VERIFY_RATE = "30/m"


def _private(response: HttpResponse) -> HttpResponse:
    """A letter names people: never kept by a shared browser's or a proxy's cache."""
    add_never_cache_headers(response)
    return response


def print_response(request, letter, *, back_url: str, pdf_url: str) -> HttpResponse:
    html = letter_print.letter_html(letter, request=request, back_url=back_url, pdf_url=pdf_url)
    return _private(HttpResponse(html))


def pdf_response(request, letter) -> HttpResponse:
    response = HttpResponse(letter_print.letter_pdf(letter, request=request))
    response["Content-Type"] = "application/pdf"
    response["Content-Disposition"] = letter_print.pdf_content_disposition(letter)
    return _private(response)


# ---------------------------------------------------------------------------------------------
# the holder


class LetterPrintView(LoginRequiredMixin, View):
    def get(self, request, public_id):
        letter = selectors.letter_get_for_holder(user=request.user, public_id=public_id)
        return print_response(
            request,
            letter,
            back_url=reverse("family:letter-detail", args=[letter.public_id]),
            pdf_url=reverse("family:letter-pdf", args=[letter.public_id]),
        )


class LetterPdfView(LoginRequiredMixin, View):
    def get(self, request, public_id):
        letter = selectors.letter_get_for_holder(user=request.user, public_id=public_id)
        return pdf_response(request, letter)


# ---------------------------------------------------------------------------------------------
# staff (region scope by the holder's region)


class StaffLetterPrintView(StaffRequiredMixin, View):
    permission_required = (VIEW_LETTER,)

    def get(self, request, public_id):
        letter = selectors.letter_get_for_staff(user=request.user, public_id=public_id)
        return print_response(
            request,
            letter,
            back_url=reverse("staff:person", args=[letter.holder.public_id]),
            pdf_url=reverse("staff:letter-pdf", args=[letter.public_id]),
        )


class StaffLetterPdfView(StaffRequiredMixin, View):
    permission_required = (VIEW_LETTER,)

    def get(self, request, public_id):
        letter = selectors.letter_get_for_staff(user=request.user, public_id=public_id)
        return pdf_response(request, letter)


# ---------------------------------------------------------------------------------------------
# public check page


@method_decorator(ratelimit(key="ip", rate=VERIFY_RATE, method=ratelimit.ALL, block=True), "get")
class LetterVerifyView(TemplateView):
    """Anyone holding a printed letter (a pharmacy, a relative, the bureau) checks it here. An
    unknown and a malformed code give the same plain 404 page."""

    template_name = "family/verify.html"

    def get(self, request, *args, **kwargs):
        check = selectors.letter_check(code=kwargs["code"], at=timezone.now())
        response = self.render_to_response(self.get_context_data(check=check))
        response["X-Robots-Tag"] = "noindex, nofollow"
        return _private(response)
