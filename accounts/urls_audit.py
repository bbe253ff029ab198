from django.urls import path

from . import audit_views

# Included under /staff/ in the "staff" namespace (portal/urls.py): the audit trail (issue 6).
urlpatterns = [
    path("audit/", audit_views.AuditListView.as_view(), name="audit"),
    path("audit/export.csv", audit_views.AuditExportView.as_view(), name="audit-export"),
]
