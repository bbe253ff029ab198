"""Every page is somebody's (names, balances, letters, the CSRF token of a form), so no browser
history, shared counter PC or proxy keeps a copy (issue 13 point 14): `Cache-Control: no-store`
on every response that did not say otherwise. Static files never reach this (WhiteNoise answers
them first, with their own long cache headers)."""

from __future__ import annotations

from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response:
            patch_cache_control(response, no_store=True, private=True)
        return response
