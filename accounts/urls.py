"""URL map of the accounts app: the citizen pages (`urlpatterns`, under /accounts/ in the
"accounts" namespace) and its staff console pages (`staff_patterns`, which portal/urls.py joins
with the other apps' under /staff/ in the "staff" namespace, issue 6)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import audit_views, staff_views, views

app_name = "accounts"

urlpatterns = [
    path("activate/", views.ActivateView.as_view(), name="activate"),
    path("activate/code/", views.ActivateCodeView.as_view(), name="activate-code"),
    path("activate/resend/", views.ActivateResendView.as_view(), name="activate-resend"),
    path("login/", views.CitizenLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("inbox/", views.InboxListView.as_view(), name="inbox"),
    path("inbox/read-all/", views.InboxMarkAllReadView.as_view(), name="inbox-read-all"),
    path("inbox/<uuid:public_id>/", views.InboxDetailView.as_view(), name="inbox-detail"),
]

staff_patterns = [
    path("", staff_views.StaffHomeView.as_view(), name="home"),
    path("persons/", staff_views.PersonSearchView.as_view(), name="person-search"),
    # The audit trail.
    path("audit/", audit_views.AuditListView.as_view(), name="audit"),
    path("audit/export.csv", audit_views.AuditExportView.as_view(), name="audit-export"),
]
