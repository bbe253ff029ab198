"""Forms of the holder pages: bind wizard (members, sign), window change, payment cap.

Forms parse and check the shape of input (an identity number's check digit, a date, two decimal
places). The family rules (R1–R8, R21) are the services': the member formset asks
`selectors.bind_check` and puts each answer next to the row it concerns; the sign and window forms
only carry what the services need."""

from __future__ import annotations

import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Div, Field, Layout, Row, Submit
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts import idnumber
from accounts.fields import BoundedDateTimeField
from family import errors, selectors, services
from family.models import Relation

MEMBER_PREFIX = "members"
MAX_MEMBERS_PER_REQUEST = 10
HASH_INVALID = _("承诺书摘要无效，请重新阅读承诺书后再签署")
RELATION_PLACEHOLDER = _("请选择")

_HASH_RE = re.compile(r"^[0-9a-f]{64}$")

# What a browser's <input type="datetime-local"> sends (with or without seconds).
LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"
LOCAL_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class LocalDateTimeField(BoundedDateTimeField):
    """A datetime-local input. Django reads it in the current time zone (settings.TIME_ZONE,
    Asia/Shanghai) and returns an aware datetime."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("input_formats", LOCAL_INPUT_FORMATS)
        kwargs.setdefault(
            "widget",
            forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT_FORMAT),
        )
        super().__init__(**kwargs)


class RelativeIdNumberField(forms.CharField):
    """A relative's identity number: GB 11643 check digit; returns the normalized number."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("身份证号码"))
        kwargs.setdefault("max_length", 22)  # room for blanks a person may type
        kwargs.setdefault("validators", [idnumber.validate_id_number])
        super().__init__(**kwargs)
        self.widget.attrs.update(
            {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        )

    def to_python(self, value):
        value = super().to_python(value)
        return idnumber.normalize(value) if value else value


def _sign_fields_layout() -> list:
    """Typed name, then the optional drawn signature (shown only when JavaScript runs)."""
    return [
        Field("signed_name", css_class="form-control-lg"),
        HTML('{% include "family/partials/signature_pad.html" %}'),
        Field("signature_image"),
        Field("letter_hash"),
    ]


# ---------------------------------------------------------------------------------------------
# bind wizard


class MemberForm(forms.Form):
    """One relative to bind, as the holder types it."""

    relation = forms.ChoiceField(
        label=_("与您的关系"),
        choices=[("", RELATION_PLACEHOLDER), *Relation.choices],
        help_text=_("该亲属是您的什么人"),
    )
    name = forms.CharField(label=_("姓名"), max_length=50, help_text=_("须与身份证上的姓名一致"))
    id_number = RelativeIdNumberField()
    window_start = LocalDateTimeField(
        label=_("授权开始时间（选填）"), help_text=_("留空表示签署承诺书后立即生效")
    )
    window_end = LocalDateTimeField(
        label=_("授权结束时间（选填）"), help_text=_("留空表示长期有效，直至您解除授权")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update({"autocomplete": "off"})


class BaseMemberFormSet(forms.BaseFormSet):
    """The wizard's first step. Every row is a new member; a row left untouched is ignored.

    `clean()` resolves each row to the bureau's record and asks `selectors.bind_check` (the dry
    run of R1–R6, R21); an error goes next to its row, a holder-level one above all rows. After
    `is_valid()`, `member_requests` holds what `relationship_bind` needs."""

    def __init__(self, *args, holder, **kwargs):
        self.holder = holder
        self.member_requests: list[services.MemberRequest] = []
        super().__init__(*args, **kwargs)

    def initial_form_count(self) -> int:
        # Rows re-shown after "添加一人" carry initial values but are still new rows, so an
        # untouched extra row stays optional (empty_permitted) when the formset is posted.
        return 0 if self.is_bound else super().initial_form_count()

    def filled_forms(self) -> list[MemberForm]:
        """Rows the holder filled in and that parse (an untouched extra row is skipped)."""
        return [f for f in self.forms if f.has_changed() and f.is_valid()]

    def clean(self) -> None:
        filled = self.filled_forms()
        if not filled:
            if not any(self.errors):
                raise ValidationError(errors.NO_MEMBERS, code="no_members")
            return
        # Rows that parse are checked against the register and the rules even when another
        # row has a typing error, so the holder sees every problem at once.
        resolved: list[tuple[MemberForm, services.MemberRequest]] = []
        for form in filled:
            data = form.cleaned_data
            person = selectors.person_find_for_binding(
                id_number=data["id_number"], name=data["name"]
            )
            if person is None:
                form.add_error(None, errors.MEMBER_NOT_FOUND)  # R3
                continue
            request = services.MemberRequest(
                person=person,
                relation=data["relation"],
                window_start=data.get("window_start"),
                window_end=data.get("window_end"),
            )
            resolved.append((form, request))
        requests = [request for _form, request in resolved]
        # Holder-level problems (R2, R5, R21 caps) are raised: they become non-form errors.
        problems = selectors.bind_check(holder=self.holder, members=requests)
        for (form, _request), error in zip(resolved, problems, strict=True):
            if error is not None:
                form.add_error(None, error)
        if all(form.is_valid() for form in self.forms if form.has_changed()) and not any(problems):
            self.member_requests = requests

    def raw_rows(self) -> list[dict[str, str]]:
        """Each row as typed (strings), for the session draft and for re-showing the rows."""
        rows = []
        for form in self.forms:
            rows.append({name: form[name].value() or "" for name in form.fields})
        return rows

    @classmethod
    def data_from_rows(cls, rows: list[dict[str, str]]) -> dict[str, str]:
        """POST-like data for rows kept in the session, so a later step re-validates them."""
        data = {
            f"{MEMBER_PREFIX}-TOTAL_FORMS": str(len(rows)),
            f"{MEMBER_PREFIX}-INITIAL_FORMS": "0",
        }
        for i, row in enumerate(rows):
            for name, value in row.items():
                data[f"{MEMBER_PREFIX}-{i}-{name}"] = value
        return data


MemberFormSet = forms.formset_factory(
    MemberForm,
    formset=BaseMemberFormSet,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=MAX_MEMBERS_PER_REQUEST,
    validate_max=True,
)


def member_formset_helper() -> FormHelper:
    """One member row; the page draws the row's card, legend and remove button around it."""
    helper = FormHelper()
    helper.form_tag = False  # the page writes the <form> with the add/next buttons
    helper.disable_csrf = True
    helper.layout = Layout(
        Row(
            Column("relation", css_class="col-md-4"),
            Column("name", css_class="col-md-8"),
        ),
        "id_number",
        Row(
            Column("window_start", css_class="col-md-6"),
            Column("window_end", css_class="col-md-6"),
        ),
    )
    return helper


class SignForm(forms.Form):
    """R7: typed full name, optional drawn signature, and the digest of the text on the page."""

    signed_name = forms.CharField(
        label=_("签名：请输入您的姓名"),
        max_length=50,
        help_text=_("须与您在医保经办机构登记的姓名完全一致"),
    )
    signature_image = forms.CharField(required=False, widget=forms.HiddenInput)
    letter_hash = forms.CharField(widget=forms.HiddenInput)

    submit_label = _("签署承诺书并提交")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["signed_name"].widget.attrs.update({"autocomplete": "off"})
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            *self.extra_layout(),
            *_sign_fields_layout(),
            Div(
                Submit("sign", self.submit_label, css_class="btn-primary btn-lg w-100"),
                css_class="mt-3",
            ),
        )

    def extra_layout(self) -> list:
        return [HTML('<input type="hidden" name="step" value="sign">')]

    def clean_letter_hash(self) -> str:
        value = self.cleaned_data["letter_hash"].strip().lower()
        if not _HASH_RE.match(value):
            raise ValidationError(HASH_INVALID, code="hash_invalid")
        return value

    def signature(self) -> services.Signature:
        return services.Signature(
            name=self.cleaned_data["signed_name"], image=self.cleaned_data["signature_image"]
        )


# ---------------------------------------------------------------------------------------------
# window change


class WindowForm(forms.Form):
    """A member's new authorization window (R6). Blank start keeps the current start."""

    window_start = LocalDateTimeField(
        label=_("新的授权开始时间（选填）"), help_text=_("留空表示保持当前开始时间")
    )
    window_end = LocalDateTimeField(
        label=_("新的授权结束时间（选填）"), help_text=_("留空表示长期有效，直至您解除授权")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            HTML('<input type="hidden" name="step" value="window">'),
            "window_start",
            "window_end",
            Div(
                Submit(
                    "preview", _("下一步：核对新的承诺书"), css_class="btn-primary btn-lg w-100"
                ),
                css_class="mt-3",
            ),
        )


class WindowSignForm(SignForm):
    """Step two of a window change: the window travels in hidden fields; the letter digest ties
    the signature to the text shown with exactly these values."""

    window_start = BoundedDateTimeField(required=False, widget=forms.HiddenInput)
    window_end = BoundedDateTimeField(required=False, widget=forms.HiddenInput)

    submit_label = _("签署新的承诺书")

    def extra_layout(self) -> list:
        return [
            HTML('<input type="hidden" name="step" value="sign">'),
            Field("window_start"),
            Field("window_end"),
        ]


# ---------------------------------------------------------------------------------------------
# payment cap (R21)


class CapForm(forms.Form):
    """R21 (Shanxi): the holder's optional single-payment cap for one member."""

    cap = forms.DecimalField(
        label=_("单笔支付上限（元）"),
        required=False,
        max_digits=14,
        decimal_places=2,
        help_text=_("最多两位小数；留空表示不限"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            Field("cap", css_class="form-control-lg"),
            Div(
                Submit("save", _("保存"), css_class="btn-primary btn-lg w-100"),
                css_class="mt-3",
            ),
        )


__all__ = [
    "CapForm",
    "MemberForm",
    "MemberFormSet",
    "SignForm",
    "WindowForm",
    "WindowSignForm",
    "member_formset_helper",
]
