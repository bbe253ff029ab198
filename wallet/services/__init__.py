"""Every write of the wallet app (R23-R27): opening and closing, transfers and their answers,
the 06:00 return, and the wallet as a source of settlements."""

from .opening import COUNTER_CARDS, COUNTER_PERMISSION, wallet_close, wallet_open
from .returns import transfers_return_due
from .transfers import transfer_accept, transfer_decline, transfer_recipient, transfer_send

__all__ = [
    "COUNTER_CARDS",
    "COUNTER_PERMISSION",
    "transfer_accept",
    "transfer_decline",
    "transfer_recipient",
    "transfer_send",
    "transfers_return_due",
    "wallet_close",
    "wallet_open",
]
