"""Forms of the counter actions (issue 6): revoke a member, end a relationship, change a
person's insured status (R14, R15, R20). They only parse input; every rule is the services'. At
the counter a reason is always required: it goes into the audit trail with the change."""

from __future__ import annotations

from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Layout
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import InsuredPerson
from family.models import Relationship

REASON_REQUIRED = _("请填写办理原因，将记入审计记录")
END_REASON_REQUIRED = _("请选择终止原因")
STATUS_INVALID = _("请选择新的参保状态：转出、终止、暂停或恢复正常参保")

# What staff may choose when ending a relationship at the counter (the other end reasons are
# the system's: no members left, the holder's status changed).
END_REASONS = [
    (Relationship.EndReason.HOLDER_ENDED.value, _("主账户人到窗口申请解除")),
    (Relationship.EndReason.STAFF.value, _("经办机构依规终止")),
]
STATUS_CHOICES = [
    (InsuredPerson.Status.TRANSFERRED.value, _("已转出（参保关系转出本统筹区）")),
    (InsuredPerson.Status.TERMINATED.value, _("已终止（含死亡）")),
    (InsuredPerson.Status.SUSPENDED.value, _("暂停参保")),
    (InsuredPerson.Status.NORMAL.value, _("恢复正常参保")),
]


def _reason_field(label, help_text) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=200,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": REASON_REQUIRED},
    )


def _helper(*fields, button, css_class="btn-danger") -> FormHelper:
    helper = FormHelper()
    helper.form_method = "post"
    helper.layout = Layout(
        *fields,
        Div(
            StrictButton(button, type="submit", css_class=f"{css_class} btn-lg"),
            css_class="d-grid d-sm-flex gap-2 mt-3",
        ),
    )
    return helper


class CounterRevokeForm(forms.Form):
    """R15 at the counter: the holder asks staff to revoke one member."""

    reason = _reason_field(
        _("解除原因"), _("必填，最多200字；记入授权记录和审计记录，例如“主账户人本人到窗口申请”")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("reason", button=_("确认解除"))


class RelationshipEndForm(forms.Form):
    """The whole relationship ends: every live member is revoked (R15)."""

    end_reason = forms.ChoiceField(
        label=_("终止原因"),
        choices=END_REASONS,
        widget=forms.RadioSelect,
        error_messages={"required": END_REASON_REQUIRED, "invalid_choice": END_REASON_REQUIRED},
    )
    note = _reason_field(_("情况说明"), _("必填，最多200字；记入审计记录"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("end_reason", "note", button=_("确认终止家庭共济关系"))


class PersonStatusForm(forms.Form):
    """R14: transfer out, terminate, suspend or restore, with a reason."""

    status = forms.ChoiceField(
        label=_("新的参保状态"),
        choices=STATUS_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": STATUS_INVALID, "invalid_choice": STATUS_INVALID},
    )
    reason = _reason_field(
        _("变更原因"), _("必填，最多200字；记入审计记录，例如转出地、终止依据的材料")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("status", "reason", button=_("确认变更参保状态"))
