"""Commitment-letter texts (R7). Each kind has a versioned template; a signed letter keeps the text
it was shown with, so changing a template (a new version) never changes a signed letter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.models import InsuredPerson

from .models import CommitmentLetter, Relation

# kind -> (template version, template path). A wording change is a new version and a new file.
TEMPLATES = {
    CommitmentLetter.Kind.RELATIONSHIP_LETTER: (
        "relationship_letter/2025.1",
        "family/letters/relationship_letter_2025_1.txt",
    ),
    CommitmentLetter.Kind.MUTUAL_AID_LETTER: (
        "mutual_aid_letter/2025.1",
        "family/letters/mutual_aid_letter_2025_1.txt",
    ),
    CommitmentLetter.Kind.WITHHOLDING_AGREEMENT: (
        "withholding_agreement/2025.1",
        "family/letters/withholding_agreement_2025_1.txt",
    ),
}

FROM_SIGNING = "自签署之时起"
OPEN_END = "长期有效，至解除授权为止"


@dataclass(frozen=True)
class LetterLine:
    """One member as the letter states it."""

    member: InsuredPerson
    relation: str
    window_start: dt.datetime | None  # None: from the moment of signing
    window_end: dt.datetime | None  # None: open end


def format_instant(value: dt.datetime) -> str:
    local = timezone.localtime(value)
    return f"{local:%Y年%m月%d日 %H:%M:%S}"


def window_text(start: dt.datetime | None, end: dt.datetime | None) -> str:
    begin = FROM_SIGNING if start is None else f"自{format_instant(start)}起"
    finish = OPEN_END if end is None else f"至{format_instant(end)}止"
    return f"{begin}，{finish}"


def render(
    *, kind: str, purpose: str, holder: InsuredPerson, lines: list[LetterLine]
) -> tuple[str, str]:
    """(template version, full text). The text is Chinese whatever the page language: it is the
    legal text the bureau keeps."""
    version, template = TEMPLATES[kind]
    rows = [
        {
            "number": number,
            "name": line.member.name,
            "id_number": line.member.masked_id_number,
            "relation": Relation(line.relation).label,
            "window": window_text(line.window_start, line.window_end),
        }
        for number, line in enumerate(lines, start=1)
    ]
    with translation.override("zh-hans"):
        text = render_to_string(
            template,
            {
                "title": CommitmentLetter.Kind(kind).label,
                "purpose": CommitmentLetter.Purpose(purpose).label,
                "version": version,
                "holder_name": holder.name,
                "holder_id_number": holder.masked_id_number,
                "region": f"{holder.region.name}（{holder.region.code}）",
                "rows": rows,
            },
        )
    return version, text.strip() + "\n"
