from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "payments"
    verbose_name = _("个人账户与结算")

    def ready(self) -> None:
        # R2 and the balance fallback order (R21) need holders' balances; family asks through
        # its hook so that it never imports payments (accounts <- family <- payments).
        from family import hooks

        from .selectors import balance_of

        hooks.register_balance_provider(balance_of)

        from . import tasks  # noqa: F401  (registers the tasks services enqueue by name)
