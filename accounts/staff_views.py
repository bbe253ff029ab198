"""Staff pages of the accounts app: the counter's start page and the person search (issue 6)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.views.generic import TemplateView

from . import idnumber, selectors
from .forms import PersonSearchForm
from .staff import StaffRequiredMixin, page_context, search_params, search_redirect


class StaffHomeView(StaffRequiredMixin, TemplateView):
    template_name = "staff/home.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(form=PersonSearchForm(), staff_section="home", **kwargs)


class PersonSearchView(StaffRequiredMixin, TemplateView):
    """POST the identity number or name (never in the URL: see `accounts.staff.search_stash`);
    GET ?s=<token> shows the persons found within the user's regions, 20 per page."""

    template_name = "staff/person_search.html"

    def post(self, request, *args, **kwargs):
        form = PersonSearchForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        return search_redirect(request, request.POST, "staff:person-search")

    def get_context_data(self, form=None, **kwargs):
        context = super().get_context_data(staff_section="persons", **kwargs)
        params = search_params(self.request)
        if form is None:
            form = PersonSearchForm(params) if params is not None else PersonSearchForm()
        context.update(form=form, persons=None)
        if form.is_bound and form.is_valid():
            query = form.cleaned_data["q"].strip()
            found = selectors.persons_search_for_staff(user=self.request.user, query=query)
            page = Paginator(found, 20).get_page(self.request.GET.get("page"))
            context.update(persons=page, searched=query, **page_context(page))
            if idnumber.looks_like_number(query):
                # The page repeats the number masked, and the box starts empty again.
                context.update(form=PersonSearchForm(), searched=idnumber.mask(query))
        return context
