"""Outgoing mail: rendered messages, one Mailer interface, outbox and SendGrid backends."""
