"""The demo cast of docs/demo.md, loaded through the real services the way
`manage.py seed_demo` loads it (accounts, balances, relationships, institutions), for the
fixtures of tests/conftest.py and for tests that load it themselves (threads, modules)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from accounts.demo import seed_accounts
from accounts.models import InsuredPerson, User
from family.demo import seed_family
from payments.demo import seed_balances, seed_institutions


def _quiet(line):
    return None


class Demo(Mapping[str, InsuredPerson]):
    """The demo people by name (`demo["王建国"]`, fresh rows with region and user) and the demo
    staff by username (`demo.staff["js_clerk"]`: regions 320100/320200, 窗口经办;
    `demo.staff["js_super"]`: same regions, 审核; `demo.staff["xj_clerk"]`: 659004, 窗口经办;
    `demo.staff["admin"]`: superuser, all regions, 管理员)."""

    def __init__(self) -> None:
        self.people = people()
        self.staff = {u.username: u for u in User.objects.filter(is_staff=True)}

    def __getitem__(self, name: str) -> InsuredPerson:
        return self.people[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.people)

    def __len__(self) -> int:
        return len(self.people)


# seed_demo's steps in its order; a variant of the cast stops after one of them.
STEPS = {
    "accounts": seed_accounts,  # people, their users and the staff
    "balances": seed_balances,
    "relationships": seed_family,
    "institutions": seed_institutions,
}


def load_demo(*, until: str = "institutions") -> Demo:
    """The cast as seed_demo loads it, stopping after the step `until` (the whole cast by
    default; "balances": the people with their balances and no relationship yet)."""
    for name, step in STEPS.items():
        step(log=_quiet)
        if name == until:
            break
    else:
        raise ValueError(f"no demo step {until!r}")
    return Demo()


def people() -> dict[str, InsuredPerson]:
    """The people by name, read again (fresh rows)."""
    return {p.name: p for p in InsuredPerson.objects.select_related("region", "user")}
