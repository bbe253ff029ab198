from django.urls import path

from .views import counter

# Included under /staff/ in the "staff" namespace (portal/urls.py): the counter actions of
# issue 6. Authorizations and relationships by public id; the member and the person by theirs.
urlpatterns = [
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
]
