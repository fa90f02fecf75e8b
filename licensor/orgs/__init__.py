"""Organisations: a customer with members (owner, admins, members), their tokens and
sign-in (docs/instance-keys.md)."""
