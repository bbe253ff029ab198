from django.urls import path

from .views.dashboard import DashboardView

# Included under /staff/ in the "staff" namespace (portal/urls.py): the dashboard (issue 6).
urlpatterns = [
    path("dashboard/", DashboardView.as_view(), name="dashboard"),
]
