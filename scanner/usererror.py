"""The one exception CLI commands raise for a problem the user can fix that is not command-line
syntax (an unwritable report path, a damaged register, a policy with a typo). Click prints a
``UsageError`` with the usage banner, which is noise for these; this prints one line and exits
2 ("scan incomplete or usage error"), never 1, which a script would read as "AI found"."""

from __future__ import annotations

import click


class UserError(click.ClickException):
    exit_code = 2
