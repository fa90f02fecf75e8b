"""The license key: Dodo's key aggregate (docs/architecture.md, glossary).

Keys (`router`, `service`, `repository`, `schemas`, `keys`), their instances
(`instance_*`), the public checks `/licenses/validate|activate|deactivate` (`public_*`, the
thin ASGI `fast` and its raw SQL `store`), and `errors`. A key's emails are `delivery`'s."""
