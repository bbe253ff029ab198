from django.urls import path

from .views import counter_binding as views

# Included under /staff/ in the "staff" namespace (portal/urls.py): counter binding (issue 6).
urlpatterns = [
    path(
        "persons/<uuid:public_id>/binding/",
        views.BindingStartView.as_view(),
        name="binding-start",
    ),
    path("bindings/<uuid:public_id>/", views.BindingDetailView.as_view(), name="binding"),
    path(
        "bindings/<uuid:public_id>/scan/upload/",
        views.BindingUploadView.as_view(),
        name="binding-upload",
    ),
    path(
        "bindings/<uuid:public_id>/letter/",
        views.BindingLetterView.as_view(),
        name="binding-letter",
    ),
    path("bindings/<uuid:public_id>/scan/", views.BindingScanView.as_view(), name="binding-scan"),
    path("reviews/", views.ReviewListView.as_view(), name="review-list"),
    path(
        "reviews/<uuid:public_id>/",
        views.BindingReviewView.as_view(),
        name="binding-review",
    ),
]
