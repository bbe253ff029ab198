"""Forms of the counter binding pages (issue 6, R18). They parse what the clerk types or ticks;
the rules (R1–R8, R18, R21, the scan checks) are the services' (`family.services.counter`)."""

from __future__ import annotations

from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Div, Layout, Row, Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import RelationProof
from family import services
from family.forms.binding import RELATION_PLACEHOLDER, LocalDateTimeField, RelativeIdNumberField
from family.models import CounterBinding, CounterBindingMember, Relation

ACTION_FIELD = "action"
SCAN_ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"


def _action(value: str) -> HTML:
    return HTML(f'<input type="hidden" name="{ACTION_FIELD}" value="{value}">')


class CounterMemberForm(forms.Form):
    """One member, from the card the clerk holds: number and name must both match the register."""

    relation = forms.ChoiceField(
        label=_("与主账户人的关系"),
        choices=[("", RELATION_PLACEHOLDER), *Relation.choices],
        help_text=_("家庭成员是主账户人的什么人"),
    )
    name = forms.CharField(label=_("姓名"), max_length=50, help_text=_("与证件上的姓名一致"))
    id_number = RelativeIdNumberField()
    window_end = LocalDateTimeField(
        label=_("授权结束时间（选填）"),
        help_text=_("授权自生效之时起；留空表示长期有效，直至解除"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update({"autocomplete": "off"})
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_id = "member-add-form"
        self.helper.layout = Layout(
            _action("member-add"),
            Row(
                Column("relation", css_class="col-md-3"),
                Column("name", css_class="col-md-3"),
                Column("id_number", css_class="col-md-6"),
            ),
            Row(Column("window_end", css_class="col-md-6")),
            StrictButton(_("添加成员"), type="submit", css_class="btn-outline-primary"),
        )


class CounterDocumentsForm(forms.Form):
    """R18: the checklist. One field for the holder's cards, one per member, one for the relation
    proofs the region accepts. Nothing is required here: the service says what is missing."""

    holder_cards = forms.MultipleChoiceField(
        choices=CounterBinding.Card.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    proofs = forms.MultipleChoiceField(
        label=_("关系证明"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def __init__(
        self, *args, binding: CounterBinding, members: list[CounterBindingMember], **kwargs
    ):
        seen = binding.documents_seen or {}
        member_seen = seen.get("members") or {}
        initial = {"holder_cards": seen.get("holder") or [], "proofs": seen.get("proofs") or []}
        self.member_fields: dict[str, str] = {}  # field name -> person public id
        for member in members:
            key = str(member.person.public_id)
            name = self.member_field_name(key)
            self.member_fields[name] = key
            initial[name] = member_seen.get(key) or []
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        holder = binding.holder
        self.fields["holder_cards"].label = _("主账户人 %(name)s（%(number)s）的证件") % {
            "name": holder.name,
            "number": holder.masked_id_number,
        }
        for member in members:
            name = self.member_field_name(str(member.person.public_id))
            self.fields[name] = forms.MultipleChoiceField(
                label=_("家庭成员 %(name)s（%(number)s）的证件")
                % {"name": member.person.name, "number": member.person.masked_id_number},
                choices=CounterBinding.Card.choices,
                widget=forms.CheckboxSelectMultiple,
                required=False,
            )
        accepted = list(binding.region.counter_relation_proofs or [])
        self.fields["proofs"].choices = [(p, RelationProof(p).label) for p in accepted]
        self.fields["proofs"].help_text = _("本统筹区认可其中任意一种")
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_id = "documents-form"
        self.helper.layout = Layout(
            _action("documents"),
            "holder_cards",
            *self.member_fields,
            "proofs",
            StrictButton(_("保存查验结果"), type="submit", css_class="btn-outline-primary"),
        )

    @staticmethod
    def member_field_name(person_public_id: str) -> str:
        return "member_" + person_public_id.replace("-", "")

    def field_for_error(self, code: str, params: dict | None) -> str | None:
        """The field a service error about documents belongs next to."""
        if code == "docs_holder_card_missing":
            return "holder_cards"
        if code in ("docs_proof_missing", "docs_proof_not_accepted"):
            return "proofs"
        if code == "docs_member_card_missing" and params:
            return self.member_field_name(params.get("person", ""))
        return None

    def documents(self) -> services.Documents:
        data = self.cleaned_data
        return services.Documents(
            holder=data.get("holder_cards") or [],
            members={key: data.get(name) or [] for name, key in self.member_fields.items()},
            proofs=data.get("proofs") or [],
        )


class ScanUploadForm(forms.Form):
    """The scan of the letter the holder signed. Empty files pass the form so the service can say
    so in its own words; the type is judged by content, not by `accept`."""

    scan = forms.FileField(
        label=_("签字件扫描件"),
        allow_empty_file=True,
        max_length=200,
        widget=forms.ClearableFileInput(attrs={"accept": SCAN_ACCEPT}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        mb = services.scan_limit_mb()
        self.fields["scan"].help_text = _(
            "主账户人签字后的承诺书扫描件：PDF、JPEG 或 PNG，不超过 %(mb)s MB"
        ) % {"mb": mb}
        self.helper = FormHelper()
        self.helper.form_tag = False  # the page's form posts to the upload URL (multipart)
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            "scan", StrictButton(_("上传扫描件"), type="submit", css_class="btn-outline-primary")
        )


class ReviewForm(forms.Form):
    """A supervisor's decision; a rejection needs a reason."""

    APPROVE, REJECT = "approve", "reject"

    decision = forms.ChoiceField(
        label=_("审核结论"),
        choices=[(APPROVE, _("同意，绑定生效")), (REJECT, _("驳回"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("审核意见"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("驳回时必填，将记入办理记录"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_id = "review-form"
        self.helper.layout = Layout(
            "decision",
            "note",
            Div(Submit("review", _("提交审核结论"), css_class="btn-primary"), css_class="mt-2"),
        )
