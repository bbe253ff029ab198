"""The portal's URL map plus `bench/bare`: a plain Django JSON view that touches no database,
the floor of what one request through the same middleware, server and client costs."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET

from portal.urls import urlpatterns as portal_urlpatterns


@require_GET
def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [*portal_urlpatterns, path("bench/bare", bare, name="bench-bare")]
