"""Reads of the counter's wallet pages (R18, R23): a person's wallet panel on the staff person
page and the person's full list of transfers.

Region scope: these take a person already fetched through
`accounts.selectors.person_get_for_staff` (404 outside the clerk's regions); nothing here is
looked up by an id of its own. The other side of a transfer may be of any region or province: it
is shown by masked name and masked identity number only, never linked.

Query budget of the panel: three, whatever the wallet holds or the person sent and received: the
wallet, its holdings with their regions, the recent transfers with both people."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from accounts.models import InsuredPerson

from ..models import Holding, Transfer, Wallet
from . import open_refusal, wallet_for_person
from .transfers import transfers_for

# Transfers the panel shows; more than this and it links to the full list.
RECENT_TRANSFERS = 5


@dataclass(frozen=True)
class TransferRow:
    """One transfer as the counter sees it from `person`'s side: sent by them, or received."""

    transfer: Transfer
    sent: bool

    @property
    def other(self) -> InsuredPerson:
        """The other side: the recipient of a transfer sent, the sender of one received."""
        return self.transfer.wallet.person if self.sent else self.transfer.sender


@dataclass(frozen=True)
class StaffWalletPanel:
    person: InsuredPerson
    wallet: Wallet | None
    #: The wallet's holdings by owing region (R23), in the order spending takes them (R26).
    holdings: list[Holding]
    #: The most recent transfers sent and received, newest first.
    transfers: list[TransferRow]
    #: True when there are more transfers than the panel shows.
    more_transfers: bool
    open_refusal: ValidationError | None

    @property
    def is_open(self) -> bool:
        return self.wallet is not None and self.wallet.is_open


def transfer_rows(*, person: InsuredPerson, transfers: Iterable[Transfer]) -> list[TransferRow]:
    """`transfers` (read by `transfers_for`, with both people) as rows seen from `person`."""
    return [TransferRow(transfer=t, sent=t.sender_id == person.pk) for t in transfers]


def wallet_panel(*, person: InsuredPerson) -> StaffWalletPanel:
    """The wallet panel of the staff person page (`person` read with its region, in scope)."""
    wallet = wallet_for_person(person=person)
    holdings = list(
        Holding.objects.filter(wallet__person=person).select_related("region").order_by("id")
    )
    recent = list(transfers_for(person=person)[: RECENT_TRANSFERS + 1])
    return StaffWalletPanel(
        person=person,
        wallet=wallet,
        holdings=holdings,
        transfers=transfer_rows(person=person, transfers=recent[:RECENT_TRANSFERS]),
        more_transfers=len(recent) > RECENT_TRANSFERS,
        open_refusal=open_refusal(person=person, wallet=wallet),
    )
