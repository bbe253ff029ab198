"""Staff pages of the accounts app: the counter's start page and the person search (issue 6)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.views.generic import TemplateView

from . import selectors
from .forms import PersonSearchForm
from .staff import StaffRequiredMixin, page_context


class StaffHomeView(StaffRequiredMixin, TemplateView):
    template_name = "staff/home.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(form=PersonSearchForm(), staff_section="home", **kwargs)


class PersonSearchView(StaffRequiredMixin, TemplateView):
    """GET ?q=: identity number or name, within the user's regions; 20 per page."""

    template_name = "staff/person_search.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(staff_section="persons", **kwargs)
        form = PersonSearchForm(self.request.GET or None)
        context.update(form=form, persons=None)
        if form.is_valid():
            found = selectors.persons_search_for_staff(
                user=self.request.user, query=form.cleaned_data["q"]
            )
            page = Paginator(found, 20).get_page(self.request.GET.get("page"))
            context.update(persons=page, **page_context(page))
        return context
