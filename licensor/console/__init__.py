"""The support console: server-rendered pages over the same services as the API and CLI.

Mounted at `/console/` (live mode) and `/test/console/` (test mode, through `ModeFace`).
`docs/console.md` tells how to add a page.
"""
