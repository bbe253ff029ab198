"""Citizen pages of the payments app: premium on behalf (premium.py) and statements
(statements.py)."""
