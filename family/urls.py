"""URL map of the family app: the citizen pages (`urlpatterns`, under /family/ in the "family"
namespace) and its staff console pages (`staff_patterns`, which portal/urls.py joins with the
other apps' under /staff/ in the "staff" namespace, issue 6). The public letter check
(/verify/<code>) sits at the root, in portal/urls.py."""

from django.urls import path

from . import views
from .views import counter, counter_binding, letters

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

staff_patterns = [
    # Counter binding.
    path(
        "persons/<uuid:public_id>/binding/",
        counter_binding.BindingStartView.as_view(),
        name="binding-start",
    ),
    path(
        "bindings/<uuid:public_id>/",
        counter_binding.BindingDetailView.as_view(),
        name="binding",
    ),
    path(
        "bindings/<uuid:public_id>/scan/upload/",
        counter_binding.BindingUploadView.as_view(),
        name="binding-upload",
    ),
    path(
        "bindings/<uuid:public_id>/letter/",
        counter_binding.BindingLetterView.as_view(),
        name="binding-letter",
    ),
    path(
        "bindings/<uuid:public_id>/scan/",
        counter_binding.BindingScanView.as_view(),
        name="binding-scan",
    ),
    path("reviews/", counter_binding.ReviewListView.as_view(), name="review-list"),
    path(
        "reviews/<uuid:public_id>/",
        counter_binding.BindingReviewView.as_view(),
        name="binding-review",
    ),
    # Counter actions: authorizations and relationships by public id; the member and the person
    # by theirs.
    path(
        "authorizations/<uuid:public_id>/revoke/",
        counter.AuthorizationRevokeView.as_view(),
        name="authorization-revoke",
    ),
    path(
        "relationships/<uuid:public_id>/end/",
        counter.RelationshipEndView.as_view(),
        name="relationship-end",
    ),
    path(
        "persons/<uuid:public_id>/order/",
        counter.MemberOrderView.as_view(),
        name="member-order",
    ),
    path(
        "persons/<uuid:public_id>/status/",
        counter.PersonStatusView.as_view(),
        name="person-status",
    ),
    # Printing signed letters (issue 7), scoped by the holder's region.
    path(
        "letters/<uuid:public_id>/print/",
        letters.StaffLetterPrintView.as_view(),
        name="letter-print",
    ),
    path("letters/<uuid:public_id>/pdf/", letters.StaffLetterPdfView.as_view(), name="letter-pdf"),
]
