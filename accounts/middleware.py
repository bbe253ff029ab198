"""Two guards of every page.

Every page is somebody's (names, balances, letters, the CSRF token of a form), so no browser
history, shared counter PC or proxy keeps a copy (issue 13 point 14): `Cache-Control: no-store`
on every response that did not say otherwise. Static files never reach this (WhiteNoise answers
them first, with their own long cache headers).

No page takes control characters (`ControlCharacterMiddleware`)."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext_lazy as _

from .fields import has_control_characters


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response:
            patch_cache_control(response, no_store=True, private=True)
        return response


CONTROL_CHARACTERS_REFUSED = _(
    "您填写的内容含有无法识别的控制字符（可能来自复制粘贴），本次操作未作任何更改。"
    "请返回上一页，删除这些字符后重新填写。"
)


def _has_control_characters(data) -> bool:
    return any(
        has_control_characters(key) or any(has_control_characters(v) for v in values)
        for key, values in data.lists()
    )


def control_characters_refusal(request):
    """The 400 page when a query parameter or posted field (name or value) holds a control
    character, else None."""
    if _has_control_characters(request.GET) or (
        request.method == "POST" and _has_control_characters(request.POST)
    ):
        return render(request, "400.html", {"message": CONTROL_CHARACTERS_REFUSED}, status=400)
    return None


def reads_its_own_body(view):
    """For a view that must set its upload handlers before the body is read (the scan upload):
    the middleware leaves the request alone and the view calls control_characters_refusal()
    once its handlers are in place."""
    view.reads_its_own_body = True
    return view


class ControlCharacterMiddleware:
    """Every form field, filter and query parameter of the pages (issue 13, tests/properties):
    a request carrying a control character is refused as a whole with a page that says so
    (400), before the view reads it. The institution API's JSON is its schema's business."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/") or getattr(view_func, "reads_its_own_body", False):
            return None
        return control_characters_refusal(request)
