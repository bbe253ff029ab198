"""`python manage.py import_credits <file.csv> [--source employer|retiree_fixed] [--user NAME]`:
import a CSV of monthly credits (划入) through the same service as the admin's 导入划入文件 page
(`credits_import_csv`): every row is checked first and one bad row imports nothing; a good file
is staged, then posted here, in the same short chunks as the worker's, so that the money is
posted when the command ends. Row errors go to stderr with their line numbers and the command
exits non-zero."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from payments import services
from payments.models import CreditSource


class Command(BaseCommand):
    help = (
        "Import a CSV of personal-account credits (header id_number,name,amount,month); "
        "the whole file or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the CSV file (UTF-8)")
        parser.add_argument(
            "--source",
            choices=CreditSource.values,
            default=CreditSource.EMPLOYER,
            help="the kind of credit: employer (单位缴费划入, the default) or retiree_fixed "
            "(退休人员定额划入); one of each per person and month",
        )
        parser.add_argument(
            "--user",
            help="username of the staff member the audit trail names (default: none, a system run)",
        )

    def handle(self, *args, file: Path, source: str, user: str | None = None, **options):
        actor = None
        if user:
            actor = User.objects.filter(username=user, is_staff=True).first()
            if actor is None:
                raise CommandError(f"no staff user named {user!r}")
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            batch = services.credits_import_csv(
                data=data, file_name=file.name, actor=actor, source=source, background=False
            )
        except services.CreditImportRefused as exc:
            for error in exc.errors:
                where = f"line {error.line}" if error.line else "file"
                self.stderr.write(f"{file.name}: {where}: {error.message}")
            raise CommandError(
                f"{file.name} was not imported ({len(exc.errors)} error(s)); nothing was credited"
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"imported {batch.file_name} ({batch.source}): {batch.rows} row(s), "
                f"total {batch.total:.2f}, {batch.rows_posted} posted"
            )
        )
