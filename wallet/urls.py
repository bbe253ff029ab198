"""URL map of the wallet app (R23): the citizen's pages under /wallet/, "wallet" namespace.
No id in them: each page is the logged-in person's own wallet."""

from django.urls import path

from . import views

app_name = "wallet"

urlpatterns = [
    path("", views.WalletOverviewView.as_view(), name="overview"),
    path("open/", views.WalletOpenView.as_view(), name="open"),
    path("close/", views.WalletCloseView.as_view(), name="close"),
]
