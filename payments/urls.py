"""URL map of the payments app: the citizen pages (`urlpatterns`, under /payments/ in the
"payments" namespace) and its staff console pages (`staff_patterns`, which portal/urls.py joins
with the other apps' under /staff/ in the "staff" namespace, issue 6). The institution API lives
under /api/v1/ (payments/api.py)."""

from django.urls import path

from .views import dashboard, premium, staff, statements

app_name = "payments"

urlpatterns = [
    # 个账代缴 (R16).
    path("premium/", premium.PremiumListView.as_view(), name="premium-list"),
    path("premium/new/", premium.PremiumStartView.as_view(), name="premium-new"),
    path("premium/letter/", premium.PremiumLetterView.as_view(), name="premium-letter"),
    path("premium/check/", premium.PremiumCheckView.as_view(), name="premium-check"),
    path(
        "premium/<uuid:public_id>/",
        premium.PremiumDetailView.as_view(),
        name="premium-detail",
    ),
    path(
        "premium/<uuid:public_id>/proof.pdf",
        premium.PremiumProofView.as_view(),
        name="premium-proof",
    ),
    # Statements.
    path("statement/", statements.StatementView.as_view(), name="statement"),
    path("statement/export.csv", statements.StatementCsvView.as_view(), name="statement-csv"),
    path("paid-for-me/", statements.PaidForMeView.as_view(), name="paid-for-me"),
    path(
        "paid-for-me/<uuid:public_id>/",
        statements.PaidForMeView.as_view(),
        name="paid-for-ward",
    ),
]

# The person page (`staff:person`) is served by the wallet app, whose view adds its panel to
# `views.staff.PersonDetailView` (wallet/urls.py).
staff_patterns = [
    path(
        "persons/<uuid:public_id>/premium/",
        staff.PremiumCounterView.as_view(),
        name="premium-counter",
    ),
    path("dashboard/", dashboard.DashboardView.as_view(), name="dashboard"),
]
