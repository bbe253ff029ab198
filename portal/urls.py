from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

import accounts.urls
import family.urls
import payments.urls
import wallet.urls
from accounts.views import HomeView
from family.views.letters import LetterVerifyView
from payments.api import api

admin.site.site_header = _("职工医保个人账户家庭共济 · 经办管理")
admin.site.site_title = _("家庭共济经办管理")
admin.site.index_title = _("经办管理")

# The staff console (issue 6): pages live in the urls.py of the app whose objects they change
# (its `staff_patterns`); one namespace.
staff_patterns = [
    *accounts.urls.staff_patterns,
    *family.urls.staff_patterns,
    *payments.urls.staff_patterns,
    *wallet.urls.staff_patterns,
]

# A database gone mid-request is a 503 "try again" page; any other error a 500 (both without
# touching the database).
handler500 = "accounts.views.server_error"

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("accounts/", include(accounts.urls)),
    path("family/", include(family.urls)),
    path("verify/<str:code>", LetterVerifyView.as_view(), name="verify"),
    path("payments/", include(payments.urls)),
    path("wallet/", include(wallet.urls)),
    path("staff/", include((staff_patterns, "staff"))),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
