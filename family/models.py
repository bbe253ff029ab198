"""Relationships, authorizations, commitment letters, deduction order: issue 3."""
