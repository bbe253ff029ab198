"""The Django admin without search text in URLs (issue 13 point 15).

Django's admin searches with GET (`?q=` on a changelist, `?term=` on every keystroke of an
autocomplete field), so a clerk's identity-number search landed in the access log of every proxy
on the way and in the counter PC's history. Here:

- The changelist's search box POSTs (with its CSRF token) to `admin:search`, which keeps the term
  in the session under a random token (accounts.staff.search_stash, the staff console's own
  mechanism) and sends the browser back to the changelist with `q=~<token>`. Every ModelAdmin
  registered on this site resolves the token to the term before searching, and the search box
  shows the term again (an identity number masked). The token lives as long as the session (the
  last 20 searches are kept); a raw `?q=` that is no token of this session (a hand-made URL, an
  old bookmark) searches nothing and says to use the search box.
- Autocomplete fields POST their term (static/admin/js/autocomplete.js, the project's copy of
  Django's, sends X-CSRFToken read from the page's form); a GET is refused with 405.

`accounts.admin_config.PortalAdminConfig` (in INSTALLED_APPS) makes this the default site, so
`admin.site`, `@admin.register` and the admins of installed apps (django-celery-beat, axes) all
use it."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, QueryDict
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from . import idnumber
from .fields import validate_date_in_range
from .staff import search_stash, search_stored

TOKEN_PREFIX = "~"  # noqa: S105 - marks a search token, not a secret
SEARCH_BY_FORM = _("请使用页面上的搜索框查询：搜索内容不能直接写在网址中")


def search_term(request, raw: str) -> str | None:
    """The term a changelist's `q` stands for: the stashed term of a token of this session;
    None for anything else (a raw term in a URL is not searched)."""
    if not raw:
        return ""
    if raw.startswith(TOKEN_PREFIX):
        stored = search_stored(request, raw[len(TOKEN_PREFIX) :])
        if stored is not None:
            return stored.get("q", "")
    return None


def shown_term(term: str) -> str:
    """The term as the search box shows it back: an identity number masked."""
    number = idnumber.normalize(term)
    if len(number) == 18 and number[:17].isdigit():
        return idnumber.mask(number)
    return term


class _KnownChoicesOnly:
    """Django's autocomplete widgets look the submitted values up to show them again, and a
    value the key cannot hold ("王丽" for an id) raised there: a 500 on the re-shown form
    (found by tests/properties). Values that are no choice are left out; the form says why."""

    def optgroups(self, name, value, attr=None):
        field = self.choices.field
        known = []
        for item in value:
            try:
                field.to_python(item)
            except ValidationError:
                continue
            known.append(item)
        return super().optgroups(name, known, attr)


class KnownChoicesAutocompleteSelect(_KnownChoicesOnly, AutocompleteSelect):
    pass


class KnownChoicesAutocompleteSelectMultiple(_KnownChoicesOnly, AutocompleteSelectMultiple):
    pass


class TokenSearchMixin:
    """Mixed into every ModelAdmin of the site (PortalAdminSite.register): searches by token,
    every date the admin's forms accept bounded like the portal's own (accounts.fields), and
    autocomplete widgets that survive a hand-made value."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KnownChoicesAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KnownChoicesAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(formfield, forms.DateField | forms.DateTimeField | forms.SplitDateTimeField):
            formfield.validators.append(validate_date_in_range)
        return formfield

    def get_search_results(self, request, queryset, search_term_value):
        if getattr(request, "search_term_in_body", False):  # the POSTed autocomplete
            return super().get_search_results(request, queryset, search_term_value)
        term = search_term(request, search_term_value)
        if term is None:
            if not getattr(request, "_search_refused_told", False):
                messages.warning(request, SEARCH_BY_FORM)
                request._search_refused_told = True
            return queryset.none(), False
        return super().get_search_results(request, queryset, term)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        term = search_term(request, changelist.query)
        changelist.search_display = shown_term(term) if term else ""
        return changelist


class PostAutocompleteJsonView(AutocompleteJsonView):
    """Django's autocomplete, with the term in the body of a POST, never in the URL."""

    def get(self, request, *args, **kwargs):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, *args, **kwargs):
        # AutocompleteJsonView and its paginator read request.GET: give them the body.
        request.GET = request.POST
        request.search_term_in_body = True
        return super().get(request, *args, **kwargs)


class PortalAdminSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, TokenSearchMixin):
            admin_class = type(admin_class.__name__, (TokenSearchMixin, admin_class), {})
        return super().register(model_or_iterable, admin_class, **options)

    def get_urls(self):
        search = path("search/", self.admin_view(self.search_view), name="search")
        return [search, *super().get_urls()]

    def autocomplete_view(self, request):
        return PostAutocompleteJsonView.as_view(admin_site=self)(request)

    def search_view(self, request):
        """POST {q, next}: keep the term, go back to the changelist with its token."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        target = request.POST.get("next", "")
        if not (
            target.startswith("/")
            and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
        ):
            target = self.index_url()
        path_part, _, query = target.partition("?")
        params = QueryDict(query, mutable=True)
        current = params.pop("q", [""])[0]
        params.pop("p", None)  # a new search starts on its first page
        term = " ".join(request.POST.get("q", "").split())
        shown = search_term(request, current)
        if term and shown and term == shown_term(shown):
            params["q"] = current  # the masked number shown back, searched again: the same
        elif term:
            data = QueryDict(mutable=True)
            data["q"] = term
            params["q"] = TOKEN_PREFIX + search_stash(request, data)
        return HttpResponseRedirect(f"{path_part}?{params.urlencode()}" if params else path_part)

    def index_url(self) -> str:
        from django.urls import reverse

        return reverse(f"{self.name}:index")
