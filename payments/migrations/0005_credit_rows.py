"""Issue 13 points 5 and 6: one credit per person, month and source (CreditRow, unique), and
batches posted in chunks in the background (status and progress on CreditImport).

Batches imported before this migration were posted whole, at once, and have no rows: they are
marked done with every row posted. Their credits are not turned into rows (the ledger keys of
those credits are the only trace of person and month), so the per-row check does not cover them;
the same bytes of such a file are still refused by its hash."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F


def earlier_batches_done(apps, schema_editor):
    apps.get_model("payments", "CreditImport").objects.update(
        status="done",
        rows_posted=F("rows"),
        started_at=F("created_at"),
        finished_at=F("created_at"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_counter_policy_and_audit_export"),
        ("payments", "0004_reconcile_schedule"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CreditRow",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("line", models.PositiveIntegerField(verbose_name="行号")),
                ("month", models.DateField(verbose_name="月份")),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("employer", "单位缴费划入"),
                            ("retiree_fixed", "退休人员定额划入"),
                        ],
                        max_length=16,
                        verbose_name="划入类别",
                    ),
                ),
                (
                    "amount",
                    models.DecimalField(decimal_places=2, max_digits=14, verbose_name="金额（元）"),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "待入账"), ("posted", "已入账")],
                        default="pending",
                        max_length=8,
                        verbose_name="状态",
                    ),
                ),
                ("posted_at", models.DateTimeField(blank=True, null=True, verbose_name="入账时间")),
            ],
            options={
                "verbose_name": "划入明细",
                "verbose_name_plural": "划入明细",
                "ordering": ["batch", "line"],
            },
        ),
        migrations.AddField(
            model_name="creditimport",
            name="finished_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="入账完成时间"),
        ),
        migrations.AddField(
            model_name="creditimport",
            name="rows_posted",
            field=models.PositiveIntegerField(default=0, verbose_name="已入账行数"),
        ),
        migrations.AddField(
            model_name="creditimport",
            name="source",
            field=models.CharField(
                choices=[("employer", "单位缴费划入"), ("retiree_fixed", "退休人员定额划入")],
                default="employer",
                max_length=16,
                verbose_name="划入类别",
            ),
        ),
        migrations.AddField(
            model_name="creditimport",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="开始入账时间"),
        ),
        migrations.AddField(
            model_name="creditimport",
            name="status",
            field=models.CharField(
                choices=[("queued", "等待入账"), ("posting", "入账中"), ("done", "已全部入账")],
                default="queued",
                max_length=8,
                verbose_name="状态",
            ),
        ),
        migrations.RunPython(earlier_batches_done, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="creditimport",
            name="file_sha256",
            field=models.CharField(db_index=True, max_length=64, verbose_name="文件摘要"),
        ),
        migrations.AlterField(
            model_name="ledgeraccount",
            name="kind",
            field=models.CharField(
                choices=[
                    ("personal", "职工医保个人账户"),
                    ("employer_credits", "单位缴费划入"),
                    ("retiree_credits", "退休人员定额划入"),
                    ("institution_payable", "应付定点医药机构结算款"),
                    ("premium_receivable", "城乡居民医保保费收入"),
                ],
                max_length=24,
                verbose_name="账户类别",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditimport",
            constraint=models.CheckConstraint(
                condition=models.Q(("rows_posted__lte", models.F("rows"))),
                name="creditimport_posted_within_rows",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditimport",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "done"), ("rows_posted", models.F("rows"))),
                    models.Q(
                        models.Q(("status", "done"), _negated=True),
                        ("rows_posted__lt", models.F("rows")),
                    ),
                    _connector="OR",
                ),
                name="creditimport_done_iff_every_row_posted",
            ),
        ),
        migrations.AddField(
            model_name="creditrow",
            name="account",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="payments.ledgeraccount",
                verbose_name="个人账户",
            ),
        ),
        migrations.AddField(
            model_name="creditrow",
            name="batch",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="credit_rows",
                to="payments.creditimport",
                verbose_name="划入批次",
            ),
        ),
        migrations.AddField(
            model_name="creditrow",
            name="ledger_transaction",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="credit_row",
                to="payments.ledgertransaction",
                verbose_name="记账凭证",
            ),
        ),
        migrations.AddField(
            model_name="creditrow",
            name="person",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.insuredperson",
                verbose_name="参保人",
            ),
        ),
        migrations.AddIndex(
            model_name="creditrow",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["batch", "id"],
                name="creditrow_pending_by_batch",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrow",
            constraint=models.UniqueConstraint(
                fields=("person", "month", "source"),
                name="creditrow_one_credit_per_person_month_and_source",
                violation_error_message="该参保人该月份的此类划入已入账",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrow",
            constraint=models.UniqueConstraint(
                fields=("batch", "line"), name="creditrow_one_per_line"
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrow",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount__gt", 0)), name="creditrow_amount_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrow",
            constraint=models.CheckConstraint(
                condition=models.Q(("month__day", 1)), name="creditrow_month_is_its_first_day"
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrow",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("ledger_transaction__isnull", True),
                        ("posted_at__isnull", True),
                        ("status", "pending"),
                    ),
                    models.Q(
                        ("ledger_transaction__isnull", False),
                        ("posted_at__isnull", False),
                        ("status", "posted"),
                    ),
                    _connector="OR",
                ),
                name="creditrow_posted_iff_ledger_transaction",
            ),
        ),
    ]
