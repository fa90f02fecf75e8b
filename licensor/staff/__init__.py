"""The vendor's own staff: console accounts (roles admin, support, read_only) and sessions."""
