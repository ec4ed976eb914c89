"""Fakes of outside services for the tests (a SendGrid API server)."""
