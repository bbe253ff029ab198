"""URL map of the wallet app (R23-R27): the citizen's pages under /wallet/, "wallet" namespace.
Each page is the logged-in person's own wallet; the one id, a transfer's public id, is looked
up only among the transfers that person sent or received. Its staff console pages
(`staff_patterns`, which portal/urls.py joins with the other apps' under /staff/ in the "staff"
namespace): the person page with its wallet panel, the wallet at the counter (R18), and
clearing between regions (R27)."""

from django.urls import path

from . import staff_views, views
from .views import clearing, premium

app_name = "wallet"

urlpatterns = [
    path("", views.WalletOverviewView.as_view(), name="overview"),
    path("open/", views.WalletOpenView.as_view(), name="open"),
    path("close/", views.WalletCloseView.as_view(), name="close"),
    path("transfer/", views.TransferSendView.as_view(), name="transfer-send"),
    path("transfers/", views.TransferListView.as_view(), name="transfers"),
    path("transfers/<uuid:public_id>/", views.TransferDetailView.as_view(), name="transfer"),
    path("history/", views.WalletHistoryView.as_view(), name="history"),
    path("history.csv", views.WalletHistoryView.as_view(csv=True), name="history-csv"),
    path("premium/", premium.WalletPremiumView.as_view(), name="premium"),
]

# Staff console pages under /staff/ ("staff" namespace, joined in portal/urls.py).
staff_patterns = [
    path("clearing/", clearing.ClearingListView.as_view(), name="clearing"),
    path(
        "clearing/<uuid:public_id>/",
        clearing.BatchDetailView.as_view(),
        name="clearing-batch",
    ),
    path(
        "clearing/<uuid:public_id>/confirm/",
        clearing.BatchConfirmView.as_view(),
        name="clearing-confirm",
    ),
    path(
        "clearing/<uuid:public_id>/export.csv",
        clearing.BatchCsvView.as_view(),
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
