"""Command-line entry points: ``navarch`` (daemons and administration), ``navctl`` (client)."""
