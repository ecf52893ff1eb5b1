"""Accounts: users, brands, API clients, passwords and tokens; no web framework in here."""
