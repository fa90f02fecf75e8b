"""Instance keys and the check-in (docs/instance-keys.md): an organisation's keys for its
self-hosted instances, and `POST /api/v1/licensing/validate` (thin `asgi`, `checkin`,
raw SQL `store`). Uses `orgs` one way; `orgs` never imports it."""
