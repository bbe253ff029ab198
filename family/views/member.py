"""Member pages: consents, deduction order, revoke/leave confirmations, records.

Placeholder module: being written now."""

from django.views import View


class _Pending(View):
    pass


ConsentListView = ConsentAnswerView = OrderView = RecordListView = RevokeView = LeaveView = _Pending
