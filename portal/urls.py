from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from accounts import urls_audit, urls_staff
from accounts.views import HomeView
from family import urls_counter, urls_staff_letters
from family import urls_staff as family_staff
from family.views.letters import LetterVerifyView
from payments import urls_dashboard
from payments import urls_staff as payments_staff
from payments.api import api

admin.site.site_header = _("职工医保个人账户家庭共济 · 经办管理")
admin.site.site_title = _("家庭共济经办管理")
admin.site.index_title = _("经办管理")

# The staff console (issue 6): pages live with the app whose objects they change; one namespace.
staff_patterns = [
    *urls_staff.urlpatterns,
    *urls_audit.urlpatterns,
    *family_staff.urlpatterns,
    *urls_counter.urlpatterns,
    *urls_staff_letters.urlpatterns,
    *payments_staff.urlpatterns,
    *urls_dashboard.urlpatterns,
]

# A database gone mid-request is a 503 "try again" page; any other error a 500 (both without
# touching the database).
handler500 = "accounts.views.server_error"

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("accounts/", include("accounts.urls")),
    path("family/", include("family.urls")),
    path("verify/<str:code>", LetterVerifyView.as_view(), name="verify"),
    path("payments/", include("payments.urls")),
    path("staff/", include((staff_patterns, "staff"))),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
