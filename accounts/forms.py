from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.contrib.auth.password_validation import (
    password_validators_help_text_html,
    validate_password,
)
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import idnumber
from .models import PHONE_VALIDATOR, User

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
    id_number = IdentityNumberField()
    name = forms.CharField(label=_("姓名"), max_length=50)
    phone = forms.CharField(
        label=_("手机号码"),
        max_length=11,
        validators=[PHONE_VALIDATOR],
        help_text=_("须与在医保经办机构登记的手机号码一致"),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "tel"}),
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(_("激活并设置密码"))

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", PASSWORDS_DIFFER)
        if cleaned.get("password1") and "password2" not in self.errors:
            # Django's validators, next to the field; the service checks again before saving.
            probe = User(username="", first_name=cleaned.get("name", ""))
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
