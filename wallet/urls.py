"""URL map of the wallet app (R23-R25): the citizen's pages under /wallet/, "wallet" namespace.
Each page is the logged-in person's own wallet; the one id, a transfer's public id, is looked
up only among the transfers that person sent or received."""

from django.urls import path

from . import views

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
]
