from django.urls import path

from .views import letters as views

# Included under /staff/ in the "staff" namespace (portal/urls.py): printing signed letters
# (issue 7), scoped by the holder's region.
urlpatterns = [
    path(
        "letters/<uuid:public_id>/print/",
        views.StaffLetterPrintView.as_view(),
        name="letter-print",
    ),
    path("letters/<uuid:public_id>/pdf/", views.StaffLetterPdfView.as_view(), name="letter-pdf"),
]
