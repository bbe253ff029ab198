"""Citizen pages of family mutual aid. Thin views: forms validate input, services change state,
selectors read (and scope every object to the person who asks)."""

from .binding import (
    AuthorizationDetailView,
    BindWizardView,
    CapSetView,
    FamilyOverviewView,
    LetterDetailView,
    WindowChangeView,
)
from .member import (
    ConsentAnswerView,
    ConsentListView,
    LeaveView,
    OrderView,
    RecordListView,
    RevokeView,
)

__all__ = [
    "AuthorizationDetailView",
    "BindWizardView",
    "CapSetView",
    "ConsentAnswerView",
    "ConsentListView",
    "FamilyOverviewView",
    "LeaveView",
    "LetterDetailView",
    "OrderView",
    "RecordListView",
    "RevokeView",
    "WindowChangeView",
]
