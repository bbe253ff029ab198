from __future__ import annotations

from collections.abc import Iterable

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Div, Layout, Row, Submit
from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.contrib.auth.password_validation import (
    password_validators_help_text_html,
    validate_password,
)
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import idnumber
from .fields import BoundedDateField
from .models import PHONE_VALIDATOR, AuditEntry, User
from .selectors import AuditFilters

PASSWORDS_DIFFER = _("两次输入的密码不一致")
LOGIN_INVALID = _("身份证号码或密码错误。连续输错6次，账号将被锁定30分钟。")


def _helper(submit_label) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = True
    helper.form_method = "post"
    helper.add_input(Submit("submit", submit_label, css_class="btn-primary btn-lg w-100"))
    return helper


class IdentityNumberField(forms.CharField):
    """18 characters; validated with the GB 11643 check digit; returns the normalized number."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("身份证号码"))
        kwargs.setdefault("max_length", 22)  # room for blanks a person may type
        super().__init__(**kwargs)
        self.widget.attrs.update({"autocomplete": "username", "autocapitalize": "characters"})

    def clean(self, value):
        value = super().clean(value)
        return idnumber.parse(value).number if value else value


class ActivationForm(forms.Form):
    """Step 1 of activation: who you are, as the bureau registered you."""

    id_number = IdentityNumberField()
    name = forms.CharField(label=_("姓名"), max_length=50)
    phone = forms.CharField(
        label=_("手机号码"),
        max_length=11,
        validators=[PHONE_VALIDATOR],
        help_text=_("须与在医保经办机构登记的手机号码一致，验证码将发送到这个号码"),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "tel"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("获取短信验证码"))


PHONE_CODE_SHAPE = _("请输入短信中的6位数字验证码")


class ActivationCodeForm(forms.Form):
    """Step 2 of activation: the code sent to the registered phone and the new password.
    `name` is the person's, for the password similarity check."""

    code = forms.CharField(
        label=_("短信验证码"),
        max_length=20,  # room for blanks a person may type; 6 digits remain
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": "[0-9 ]*",
                "autofocus": True,
                "class": "form-control-lg code-input",
            }
        ),
        help_text=_("短信中的6位数字"),
    )
    password1 = forms.CharField(
        label=_("设置密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("确认密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, name: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.person_name = name
        self.helper = _helper(_("激活并设置密码"))

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            raise ValidationError(PHONE_CODE_SHAPE, code="phone_code_shape")
        return code

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", PASSWORDS_DIFFER)
        if cleaned.get("password1") and "password2" not in self.errors:
            # Django's validators, next to the field; the service checks again before saving.
            probe = User(username="", first_name=self.person_name)
            try:
                validate_password(cleaned["password1"], user=probe)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class CitizenLoginForm(AuthenticationForm):
    """Identity number + password. The field keeps Django's name `username` for django-axes."""

    username = forms.CharField(
        label=_("身份证号码"),
        max_length=150,
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "username", "autocapitalize": "characters"}
        ),
        help_text=_("经办人员请使用工作账号"),
    )
    error_messages = {
        "invalid_login": LOGIN_INVALID,
        "inactive": _("该账号已停用，请联系医保经办机构"),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password"].label = _("密码")
        self.helper = _helper(_("登录"))


class CitizenPasswordChangeForm(PasswordChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("修改密码"))


class PersonSearchForm(forms.Form):
    """The counter's look-up: an identity number or a name (issue 6)."""

    q = forms.CharField(
        label=_("身份证号码或姓名"),
        max_length=50,
        help_text=_("输入完整的18位身份证号码，或姓名（可只输入开头几个字）"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False  # the page's own GET form, with its button beside the field


AUDIT_DATES_REVERSED = _("开始日期不能晚于结束日期")
AUDIT_FILTERS_INVALID = _("筛选条件有误，请按提示修改后重新查询")


class AuditFilterForm(forms.Form):
    """The audit browser's filters (issue 6 point 3), sent by GET; every field optional.
    `actions` are the choices of `action`: the actions found in the user's entries."""

    person = forms.CharField(
        label=_("参保人"),
        max_length=50,
        required=False,
        help_text=_("完整的18位身份证号码，或姓名（可只输入开头几个字）"),
    )
    username = forms.CharField(label=_("经办人员账号"), max_length=150, required=False)
    action = forms.ChoiceField(label=_("操作"), required=False)
    channel = forms.ChoiceField(
        label=_("渠道"),
        required=False,
        choices=[("", _("全部渠道")), *AuditEntry.Channel.choices],
    )
    date_from = BoundedDateField(
        label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = BoundedDateField(
        label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, actions: Iterable[str] = (), reset_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("全部操作")), *((a, a) for a in actions)]
        self.helper = FormHelper()
        # POSTed, then kept in the session (accounts.staff.search_stash): no identity number in
        # a URL. The page itself is a GET of ?s=<token>.
        self.helper.form_method = "post"
        self.helper.attrs = {"role": "search", "aria-label": _("筛选审计记录")}
        self.helper.layout = Layout(
            Row(
                Column("person", css_class="col-md-6 col-xl-4"),
                Column("username", css_class="col-md-6 col-xl-2"),
                Column("action", css_class="col-md-6 col-xl-3"),
                Column("channel", css_class="col-md-6 col-xl-3"),
            ),
            Row(
                Column("date_from", css_class="col-6 col-md-3 col-xl-2"),
                Column("date_to", css_class="col-6 col-md-3 col-xl-2"),
            ),
            Div(
                # A plain button: no name, so the query string holds only the filters.
                HTML(f'<button type="submit" class="btn btn-primary">{_("查询")}</button>'),
                HTML(f'<a class="btn btn-outline-secondary" href="{reset_url}">{_("清除条件")}</a>')
                if reset_url
                else HTML(""),
                css_class="d-flex flex-wrap gap-2 mb-3",
            ),
        )

    def clean_person(self) -> str:
        """Anything with a digit is taken for an identity number and must be a valid one."""
        value = " ".join(self.cleaned_data["person"].split())
        if any(ch.isdigit() for ch in value):
            return idnumber.parse(value).number
        return value

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", AUDIT_DATES_REVERSED)
        return cleaned

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        person = data.get("person", "")
        is_number = any(ch.isdigit() for ch in person)
        return AuditFilters(
            id_number=person if is_number else "",
            name="" if is_number else person,
            username=data.get("username", "").strip(),
            action=data.get("action", ""),
            channel=data.get("channel", ""),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
