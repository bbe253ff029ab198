from django.urls import path

from . import staff_views

# Included under /staff/ in the "staff" namespace (portal/urls.py).
urlpatterns = [
    path("", staff_views.StaffHomeView.as_view(), name="home"),
    path("persons/", staff_views.PersonSearchView.as_view(), name="person-search"),
]
