from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from accounts.views import HomeView
from payments.api import api

admin.site.site_header = _("职工医保个人账户家庭共济 · 经办管理")
admin.site.site_title = _("家庭共济经办管理")
admin.site.index_title = _("经办管理")

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("accounts/", include("accounts.urls")),
    path("family/", include("family.urls")),
    path("payments/", include("payments.urls")),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
