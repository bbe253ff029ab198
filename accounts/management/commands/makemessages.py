"""`makemessages` that also extracts `_g(...)`: modules that translate at call time import
`gettext as _g` (beside `gettext_lazy as _`), and xgettext only knows the usual names."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=_g"]
