from django.urls import path

from .views import staff

# Included under /staff/ in the "staff" namespace (portal/urls.py).
urlpatterns = [
    path("persons/<uuid:public_id>/", staff.PersonDetailView.as_view(), name="person"),
    path(
        "persons/<uuid:public_id>/premium/",
        staff.PremiumCounterView.as_view(),
        name="premium-counter",
    ),
]
