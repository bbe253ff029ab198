from django.urls import path

from . import views
from .views import letters

app_name = "family"

urlpatterns = [
    path("", views.FamilyOverviewView.as_view(), name="overview"),
    path("bind/", views.BindWizardView.as_view(), name="bind"),
    path("letters/<uuid:public_id>/", views.LetterDetailView.as_view(), name="letter-detail"),
    path("letters/<uuid:public_id>/print/", letters.LetterPrintView.as_view(), name="letter-print"),
    path("letters/<uuid:public_id>/pdf/", letters.LetterPdfView.as_view(), name="letter-pdf"),
    path(
        "authorizations/<uuid:public_id>/",
        views.AuthorizationDetailView.as_view(),
        name="authorization-detail",
    ),
    path(
        "authorizations/<uuid:public_id>/window/",
        views.WindowChangeView.as_view(),
        name="window-change",
    ),
    path("authorizations/<uuid:public_id>/cap/", views.CapSetView.as_view(), name="cap-set"),
    path("authorizations/<uuid:public_id>/revoke/", views.RevokeView.as_view(), name="revoke"),
    path("authorizations/<uuid:public_id>/leave/", views.LeaveView.as_view(), name="leave"),
    path("consents/", views.ConsentListView.as_view(), name="consents"),
    path("consents/<uuid:public_id>/", views.ConsentAnswerView.as_view(), name="consent-answer"),
    path("order/", views.OrderView.as_view(), name="order"),
    path("order/<uuid:public_id>/", views.OrderView.as_view(), name="order-member"),
    path("records/", views.RecordListView.as_view(), name="records"),
]
