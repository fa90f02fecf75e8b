"""Command groups that several CLI modules add commands to."""

from __future__ import annotations

import typer

licenses_app = typer.Typer(
    rich_markup_mode=None,
    help="Licenses: issue, duplicate, download, notes, email delivery.",
    no_args_is_help=True,
)

license_keys_app = typer.Typer(
    rich_markup_mode=None,
    help="License keys: import from a file; the machines holding their seats.",
    no_args_is_help=True,
)
