# Included under /staff/ in the "staff" namespace (portal/urls.py); filled in by issue 6.
urlpatterns = []
