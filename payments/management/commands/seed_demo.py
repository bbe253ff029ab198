"""`python manage.py seed_demo`: load the demo cast (docs/demo.md), idempotently.

The command lives in the highest app (payments) so that it may call each app's demo seeding in
order without a lower app importing a higher one: accounts, then family; payments adds its own."""

from django.core.management.base import BaseCommand

from accounts.demo import seed_accounts
from accounts.models import InsuredPerson
from family.demo import seed_family
from payments.demo import seed_balances, seed_institutions


class Command(BaseCommand):
    help = (
        "Load the demo cast (people, staff, balances, relationships, institutions). "
        "Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when the database already has insured persons (used by make run).",
        )

    def handle(self, *args, if_empty=False, **options):
        if if_empty and InsuredPerson.objects.exists():
            self.stdout.write("Demo data: the database already has people; left as it is.")
            return
        log = lambda line: self.stdout.write(f"  + {line}")  # noqa: E731
        seed_accounts(log=log)
        seed_balances(log=log)
        seed_family(log=log)
        seed_institutions(log=log)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
