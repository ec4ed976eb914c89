"""Accounts: passwordless sign-in by emailed link, server-side sessions, roles and grants, applicants' API tokens.

``rules`` holds the pure rules (roles, scopes, expiry, safe redirects), tested in milliseconds;
``signin``, ``grants`` and ``tokens`` are the stage (database and mail). No web framework here.
"""
