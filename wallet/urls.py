"""URL map of the wallet app (R23): the citizen's pages under /wallet/, "wallet" namespace.
No id in them: each page is the logged-in person's own wallet. Its staff console pages
(`staff_patterns`, which portal/urls.py joins with the other apps' under /staff/ in the "staff"
namespace): the person page with its wallet panel, and the wallet at the counter (R18)."""

from django.urls import path

from . import staff_views, views, views_clearing, views_premium

app_name = "wallet"

urlpatterns = [
    path("", views.WalletOverviewView.as_view(), name="overview"),
    path("open/", views.WalletOpenView.as_view(), name="open"),
    path("close/", views.WalletCloseView.as_view(), name="close"),
    path("premium/", views_premium.WalletPremiumView.as_view(), name="premium"),
]

# Staff console pages under /staff/ ("staff" namespace, joined in portal/urls.py).
staff_patterns = [
    path("clearing/", views_clearing.ClearingListView.as_view(), name="clearing"),
    path(
        "clearing/<uuid:public_id>/",
        views_clearing.BatchDetailView.as_view(),
        name="clearing-batch",
    ),
    path(
        "clearing/<uuid:public_id>/confirm/",
        views_clearing.BatchConfirmView.as_view(),
        name="clearing-confirm",
    ),
    path(
        "clearing/<uuid:public_id>/export.csv",
        views_clearing.BatchCsvView.as_view(),
        name="clearing-csv",
    ),
    path("persons/<uuid:public_id>/", staff_views.PersonDetailView.as_view(), name="person"),
    path(
        "persons/<uuid:public_id>/wallet/transfers/",
        staff_views.WalletTransfersView.as_view(),
        name="wallet-transfers",
    ),
    path(
        "persons/<uuid:public_id>/wallet/open/",
        staff_views.CounterWalletOpenView.as_view(),
        name="wallet-open",
    ),
    path(
        "persons/<uuid:public_id>/wallet/close/",
        staff_views.CounterWalletCloseView.as_view(),
        name="wallet-close",
    ),
]
