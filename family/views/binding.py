"""Holder pages: overview, bind wizard, letters, one authorization, window change, cap.

Placeholder module: being written now."""

from django.views import View


class _Pending(View):
    pass


FamilyOverviewView = BindWizardView = LetterDetailView = _Pending
AuthorizationDetailView = WindowChangeView = CapSetView = _Pending
