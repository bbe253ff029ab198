"""Template context for every page rendered with a request."""

from __future__ import annotations

from django.utils.functional import cached_property

from . import selectors


class InboxBadge:
    """The header's unread count (站内信), counted when a template first reads `unread` and
    then kept: one query per page at most, none on a page that never shows the header."""

    def __init__(self, user) -> None:
        self._user = user

    @cached_property
    def unread(self) -> int:
        if self._user is None:
            return 0
        return selectors.unread_count_for(user=self._user)


def inbox(request) -> dict:
    return {"inbox": InboxBadge(getattr(request, "user", None))}
