"""Access to the staff pages under /staff/ (issue 6).

Anonymous visitors are sent to the staff login (the admin's); a citizen (a login that is not
staff) gets 403 on every staff URL; staff need the page's permissions, given by their groups
(窗口经办, 审核, 管理员: see `accounts.demo.GROUP_PERMISSIONS`). What a page may show is then
narrowed to the user's regions by the selectors (`accounts.selectors.in_staff_scope`)."""

from __future__ import annotations

import secrets

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, QueryDict
from django.urls import reverse, reverse_lazy

# Role names (Django groups). The permissions of each are data (accounts.demo), not code.
CLERK, SUPERVISOR, ADMINISTRATOR = "窗口经办", "审核", "管理员"


class StaffRequiredMixin(AccessMixin):
    """Active staff with every permission in `permission_required` (a codename or a tuple)."""

    permission_required: str | tuple[str, ...] = ("accounts.view_insuredperson",)
    login_url = reverse_lazy("admin:login")

    def get_permission_required(self) -> tuple[str, ...]:
        perms = self.permission_required
        return (perms,) if isinstance(perms, str) else tuple(perms)

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return self.handle_no_permission()
        if not (user.is_active and user.is_staff):
            raise PermissionDenied
        if not user.has_perms(self.get_permission_required()):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def page_context(page) -> dict:
    """What templates/partials/pagination.html needs for a page of a Paginator, on staff and
    citizen pages alike."""
    return {
        "page_obj": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1),
        "ellipsis": page.paginator.ELLIPSIS,
    }


# ---------------------------------------------------------------------------------------------
# Searches without identity numbers in URLs: a search form is POSTed (with its CSRF token); its
# fields are kept in the session under a random token and the browser is sent to `?s=<token>`
# (post/redirect/get), so page links, the browser history of a shared counter PC and the server's
# access logs never hold an identity number. The last few searches of a session are kept.

SEARCHES_KEY = "staff_searches"
SEARCHES_KEPT = 20


def search_stash(request, data) -> str:
    """Keep a POSTed search (a QueryDict) in the session; returns its token."""
    token = secrets.token_urlsafe(9)
    kept = dict(request.session.get(SEARCHES_KEY, {}))
    kept[token] = {
        key: values for key, values in data.lists() if key not in ("csrfmiddlewaretoken", "page")
    }
    request.session[SEARCHES_KEY] = dict(list(kept.items())[-SEARCHES_KEPT:])
    return token


def search_params(request) -> QueryDict | None:
    """The search `?s=<token>` stands for, or None (no search yet, or a token this session does
    not hold: an old bookmark, someone else's link)."""
    return search_stored(request, request.GET.get("s", ""))


def search_stored(request, token: str) -> QueryDict | None:
    """The fields kept under `token` in this session, or None."""
    stored = request.session.get(SEARCHES_KEY, {}).get(token) if token else None
    if not isinstance(stored, dict):
        return None
    params = QueryDict(mutable=True)
    for key, values in stored.items():
        params.setlist(key, values)
    return params


def search_redirect(request, data, url_name: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse(url_name)}?s={search_stash(request, data)}")
