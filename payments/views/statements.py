"""Statements: a holder's account and entries, a member's payments by others."""

urlpatterns: list = []
