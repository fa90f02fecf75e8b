"""Idempotency keys: the store behind `kit/idempotency.py`'s layer (docs/events.md)."""
