"""Helpers of the counter binding tests (issue 6): scans made with Pillow and pypdf (hostile ones
too, issue 13), and a binding brought to a given step through the real services."""

from __future__ import annotations

import datetime as dt
import io
import os

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, TextStringObject

from accounts import services as account_services
from accounts.models import AuditEntry, InsuredPerson, RegionPolicy
from family import services
from family.models import CounterBinding, Relation
from tests.factories import make_id_number

ID, SS = CounterBinding.Card.ID_CARD, CounterBinding.Card.SS_CARD
# A Windows program's first bytes (DOS header, "PE" signature).
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"PE\x00\x00"
HOUSEHOLD = "household_register"


def image_bytes(fmt: str, size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (250, 250, 245)).save(buffer, format=fmt)
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    return image_bytes("PDF")


def pdf_with_pages(count: int, **encrypt) -> bytes:
    """A PDF of `count` blank A4 pages written by pypdf (`encrypt`: PdfWriter.encrypt's)."""
    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(595, 842)
    if encrypt:
        writer.encrypt(**encrypt)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _action(kind: str, **entries) -> DictionaryObject:
    action = DictionaryObject({NameObject("/S"): NameObject(kind)})
    for key, value in entries.items():
        action[NameObject(f"/{key}")] = TextStringObject(value)
    return action


def active_pdf() -> bytes:
    """A one-page PDF that acts when opened: JavaScript as the /OpenAction and in the /Names
    tree, document and page /AA, a link annotation that launches a program, an embedded
    executable."""
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    root = writer._root_object
    root[NameObject("/OpenAction")] = writer._add_object(_action("/JavaScript", JS="app.alert(1)"))
    root[NameObject("/AA")] = DictionaryObject(
        {NameObject("/WC"): _action("/JavaScript", JS="app.alert(2)")}
    )
    page[NameObject("/AA")] = DictionaryObject(
        {NameObject("/O"): _action("/JavaScript", JS="app.alert(3)")}
    )
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(v) for v in (0, 0, 595, 842)]),
            NameObject("/A"): _action("/Launch", F="cmd.exe"),
        }
    )
    page[NameObject("/Annots")] = ArrayObject([writer._add_object(link)])
    writer.add_attachment("invoice.exe", EXECUTABLE)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def stored_files(root) -> list[str]:
    """Every file under the scan root."""
    return [os.path.join(d, f) for d, _dirs, files in os.walk(root) for f in files]


def upload(data: bytes, name: str = "scan.pdf", content_type: str = "application/pdf"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def documents_for(binding: CounterBinding, proofs=(HOUSEHOLD,)) -> services.Documents:
    """Everything a complete checklist ticks for the binding's current members."""
    return services.Documents(
        holder=[ID],
        members={str(m.person.public_id): [SS] for m in binding.members.all()},
        proofs=list(proofs),
    )


def add_members(binding, people, rows, actor):
    for name, relation in rows:
        services.counter_binding_member_add(
            binding=binding,
            person=people[name],
            relation=relation,
            window_end=None,
            actor=actor,
        )


def printed(demo, holder_name: str, rows, *, clerk: str = "js_clerk") -> CounterBinding:
    """A binding with members, a complete checklist and the letter printed."""
    actor = demo.staff[clerk]
    binding = services.counter_binding_start(holder=demo[holder_name], actor=actor)
    add_members(binding, demo.people, rows, actor)
    services.counter_binding_documents_set(
        binding=binding, documents=documents_for(binding), actor=actor
    )
    return services.counter_binding_letter_print(binding=binding, actor=actor)


def signed(demo, holder_name: str, rows, *, clerk: str = "js_clerk") -> CounterBinding:
    """`printed`, plus the scan of the signed letter."""
    binding = printed(demo, holder_name, rows, clerk=clerk)
    return services.counter_binding_scan_attach(
        binding=binding, upload=upload(pdf_bytes()), actor=demo.staff[clerk]
    )


def register_grandmother(demo) -> InsuredPerson:
    """王建国's grandmother (a resident of 320100), for the grandparent review rule."""
    person = account_services.insured_person_register(
        name="王桂英",
        id_number=make_id_number("320100", dt.date(1930, 3, 8), seq=24),
        phone="13900000024",
        region=RegionPolicy.objects.get(code="320100"),
        scheme=InsuredPerson.Scheme.RESIDENT,
        actor=None,
        channel=AuditEntry.Channel.SYSTEM,
    )
    demo.people[person.name] = person
    return person


SPOUSE = ("李秀英", Relation.SPOUSE)
DAUGHTER = ("王丽", Relation.CHILD)
SISTER = ("周芳", Relation.SIBLING)
