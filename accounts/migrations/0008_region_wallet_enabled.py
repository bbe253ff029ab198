"""R23: each region's policy says whether it offers the medical-insurance wallet (医保钱包).

The demo regions 南京 320100, 无锡 320200, 杭州 330100 and 五家渠 659004 offer it: here for the
rows that exist (a fresh migrate has 320100 and 659004, from 0002/0003), and `seed_demo` sets it
on the two regions it creates (accounts/demo.py), so both paths end the same."""

from django.db import migrations, models

DEMO_WALLET_REGIONS = ["320100", "320200", "330100", "659004"]


def wallets_on(apps, schema_editor):
    RegionPolicy = apps.get_model("accounts", "RegionPolicy")
    RegionPolicy.objects.filter(code__in=DEMO_WALLET_REGIONS).update(wallet_enabled=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_phone_codes"),
    ]

    operations = [
        migrations.AddField(
            model_name="regionpolicy",
            name="wallet_enabled",
            field=models.BooleanField(
                default=False,
                help_text="勾选后，本统筹区正常参保的参保人可以确认使用医保钱包",
                verbose_name="开通医保钱包",
            ),
        ),
        migrations.RunPython(wallets_on, migrations.RunPython.noop),
    ]
