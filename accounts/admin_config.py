"""django.contrib.admin with the portal's site (accounts.admin_site): named in INSTALLED_APPS.
A module of its own: an app config is imported before the apps are ready, the site after."""

from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.PortalAdminSite"
