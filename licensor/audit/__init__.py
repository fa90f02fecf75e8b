"""The audit log: every change on the record, append-only and hash-chained."""
