"""The citizen's wallet pages (R23-R25): overview, open and close (opening.py), sending and
answering transfers (transfers.py), the wallet's history and its CSV (history.py), the
resident premium paid from the wallet (premium.py, R26); and the staff pages of clearing
between regions (clearing.py, R27; the counter's pages are in wallet/staff_views.py)."""

from .history import WalletHistoryView
from .opening import (
    CLOSED,
    OPENED,
    WalletCloseView,
    WalletMixin,
    WalletOpenView,
    WalletOverviewView,
)
from .transfers import TransferDetailView, TransferListView, TransferSendView

__all__ = [
    "CLOSED",
    "OPENED",
    "TransferDetailView",
    "TransferListView",
    "TransferSendView",
    "WalletCloseView",
    "WalletHistoryView",
    "WalletMixin",
    "WalletOpenView",
    "WalletOverviewView",
]
