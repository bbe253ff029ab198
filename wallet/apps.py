from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WalletConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "wallet"
    verbose_name = _("医保钱包")

    def ready(self) -> None:
        # R26: settlements draw on the wallet through payments' hook (payments <- wallet).
        from payments import hooks

        from .services.reconcile import wallets_reconcile
        from .services.spending import WalletSource

        hooks.register_wallet_source(WalletSource())
        # Issue 15 point 6: the nightly reconciliation checks the wallets' books too.
        hooks.register_reconciliation_check("wallet", wallets_reconcile)

        from . import tasks  # noqa: F401  (registers the tasks beat runs by name)
