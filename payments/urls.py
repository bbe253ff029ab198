"""URL map of the citizen pages of the payments app. Each page module owns its patterns (so that
the premium and statement pages grow apart); the institution API lives under /api/v1/."""

from .views import premium, statements

app_name = "payments"

urlpatterns = [*premium.urlpatterns, *statements.urlpatterns]
