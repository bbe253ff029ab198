from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

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
