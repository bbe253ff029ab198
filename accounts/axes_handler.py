"""django-axes' database handler with one change (issue 13 point 2): a successful login forgets
only the failures of the identity that just proved itself, from the address it proved it from.

Axes, on success, deletes every attempt that matches the identity *or* the address. Five wrong
passwords for a victim, then one good login to one's own account from the same address, wiped the
victim's count: 20 guesses at one citizen and 15 at the superuser were never locked. Now the
victim's failures stay, counted against the victim and against the address, until the cool-off
ends or staff lift them in the admin."""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt

from .backends import axes_username


class PortalAxesHandler(AxesDatabaseHandler):
    def reset_user_attempts(self, request, credentials=None) -> int:
        # The identity as it was typed into the login form (an identity number or a staff
        # username), not the user's internal username that axes passes on success.
        identity = axes_username(request, None)
        if not identity:
            return 0
        count, _ = AccessAttempt.objects.filter(
            username=identity, ip_address=request.axes_ip_address
        ).delete()
        return count
