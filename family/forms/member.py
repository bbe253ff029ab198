"""Forms of the member pages: answering a consent request, moving a holder in the deduction
order, confirming a revoke or a leave, filtering the records.

They only parse input. Who may do what, and every family rule, is the services' (R8, R10, R15):
the consent form carries the answer and the password the service re-verifies; the order form
carries a holder's public id that the view looks up in the member's own live list."""

from __future__ import annotations

from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.fields import BoundedDateField
from family.models import Authorization

ANSWER_MISSING = _("请选择“同意”或“拒绝”")
DATES_REVERSED = _("开始日期不能晚于结束日期")
ALL_STATUSES = _("全部")

AGREE = "agree"
DECLINE = "decline"
UP = "up"
DOWN = "down"


# ---------------------------------------------------------------------------------------------
# consent (R8)


class ConsentAnswerForm(forms.Form):
    """R8: the answer comes from the button pressed; the password is the evidence the service
    checks (`family.verification`). Nothing here decides whether the answer is allowed."""

    password = forms.CharField(
        label=_("登录密码"),
        strip=False,
        help_text=_("为确认是您本人操作，请再次输入您登录本系统的密码"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    # Set by the submit button pressed; not drawn as a field.
    answer = forms.ChoiceField(choices=[(AGREE, AGREE), (DECLINE, DECLINE)], required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            Field("password", css_class="form-control-lg"),
            Div(
                StrictButton(
                    _("同意"),
                    type="submit",
                    name="answer",
                    value=AGREE,
                    css_class="btn-primary btn-lg flex-fill",
                ),
                StrictButton(
                    _("拒绝"),
                    type="submit",
                    name="answer",
                    value=DECLINE,
                    css_class="btn-outline-danger btn-lg flex-fill",
                ),
                css_class="d-flex flex-column flex-sm-row gap-2 mt-3",
            ),
        )

    def clean(self):
        cleaned = super().clean()
        # An unknown value is a field error of a field the page does not draw: say it above.
        if self.errors.pop("answer", None) is not None or not cleaned.get("answer"):
            raise ValidationError(ANSWER_MISSING, code="answer_missing")
        return cleaned

    @property
    def agree(self) -> bool:
        return self.cleaned_data["answer"] == AGREE


# ---------------------------------------------------------------------------------------------
# deduction order (R10)


class OrderMoveForm(forms.Form):
    """One row's 上移 / 下移 buttons: a plain POST form, no JavaScript. `authorization` is the
    public id of a row; the view accepts it only if it is in the member's live list."""

    authorization = forms.UUIDField(widget=forms.HiddenInput)
    direction = forms.ChoiceField(choices=[(UP, UP), (DOWN, DOWN)])

    def __init__(
        self,
        *args,
        holder_name: str = "",
        first: bool = False,
        last: bool = False,
        action: str = "",
        **kwargs,
    ):
        # One form per row on the page: no ids, so the hidden inputs never share one.
        kwargs.setdefault("auto_id", False)
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_action = action
        self.helper.form_class = "d-flex gap-2 m-0"
        self.helper.form_show_errors = False  # the page says what went wrong, above the list
        buttons = []
        # The visible word plus the holder's name for a screen reader (label in name, WCAG 2.5.3).
        if not first:
            buttons.append(
                StrictButton(
                    _("上移"),
                    type="submit",
                    name="direction",
                    value=UP,
                    css_class="btn-outline-primary",
                    aria_label=_("上移 %(name)s") % {"name": holder_name},
                )
            )
        if not last:
            buttons.append(
                StrictButton(
                    _("下移"),
                    type="submit",
                    name="direction",
                    value=DOWN,
                    css_class="btn-outline-primary",
                    aria_label=_("下移 %(name)s") % {"name": holder_name},
                )
            )
        self.helper.layout = Layout(Field("authorization"), *buttons)

    @property
    def step(self) -> int:
        """-1 moves the holder up (pays earlier), +1 down."""
        return -1 if self.cleaned_data["direction"] == UP else 1


# ---------------------------------------------------------------------------------------------
# revoke and leave (R15)


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=_("解除原因（选填）"),
        required=False,
        max_length=200,
        help_text=_("最多200字，记入授权记录"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            "reason",
            Div(
                StrictButton(_("确认解除"), type="submit", css_class="btn-danger btn-lg"),
                css_class="d-grid d-sm-flex gap-2 mt-3",
            ),
        )


class LeaveForm(forms.Form):
    """Nothing to fill in: the button is the confirmation."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            Div(
                StrictButton(_("确认退出"), type="submit", css_class="btn-danger btn-lg"),
                css_class="d-grid d-sm-flex gap-2",
            ),
        )


# ---------------------------------------------------------------------------------------------
# records (R15)


class DateInput(forms.DateInput):
    """The browser's own date picker; it sends ISO dates (YYYY-MM-DD)."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DateRangeFilterForm(forms.Form):
    """A GET filter with an optional date range (start not after end), laid out as one row of
    `columns` ((field, css class), …) and a 查询 button. Used by the records and statement pages."""

    date_from = BoundedDateField(
        label=_("开始日期"), required=False, input_formats=["%Y-%m-%d"], widget=DateInput()
    )
    date_to = BoundedDateField(
        label=_("结束日期"), required=False, input_formats=["%Y-%m-%d"], widget=DateInput()
    )
    columns: tuple[tuple[str, str], ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Div(*(Div(name, css_class=css) for name, css in self.columns), css_class="row g-2"),
            Div(
                # No name: the button adds nothing to the query string the page links keep.
                StrictButton(_("查询"), type="submit", css_class="btn-primary"),
                css_class="d-grid d-sm-flex gap-2 mt-2",
            ),
        )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", ValidationError(DATES_REVERSED, code="dates_reversed"))
        return cleaned


class RecordFilterForm(DateRangeFilterForm):
    """GET filter of 共济账户授权记录查询. Every field is optional; an empty form lists all."""

    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", ALL_STATUSES), *Authorization.Status.choices],
    )
    date_from = BoundedDateField(
        label=_("开始日期"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=DateInput(),
        help_text=_("在此日期或之后绑定或终止的记录"),
    )
    date_to = BoundedDateField(
        label=_("结束日期"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=DateInput(),
        help_text=_("在此日期或之前绑定或终止的记录"),
    )

    columns = (
        ("status", "col-12 col-md-4"),
        ("date_from", "col-6 col-md-4"),
        ("date_to", "col-6 col-md-4"),
    )


__all__ = [
    "ConsentAnswerForm",
    "DateRangeFilterForm",
    "LeaveForm",
    "OrderMoveForm",
    "RecordFilterForm",
    "RevokeForm",
]
