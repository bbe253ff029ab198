"""Every write of the wallet app (R23-R27): opening and closing, transfers and their answers,
the 06:00 return, the wallet as a source of settlements, and clearing between regions."""

from .clearing import clearing_confirm, clearing_run
from .opening import COUNTER_CARDS, COUNTER_PERMISSION, wallet_close, wallet_open
from .premium import wallet_premium_pay
from .returns import transfers_return_due
from .transfers import transfer_accept, transfer_decline, transfer_recipient, transfer_send

__all__ = [
    "COUNTER_CARDS",
    "COUNTER_PERMISSION",
    "clearing_confirm",
    "clearing_run",
    "transfer_accept",
    "transfer_decline",
    "transfer_recipient",
    "transfer_send",
    "transfers_return_due",
    "wallet_close",
    "wallet_open",
    "wallet_premium_pay",
]
