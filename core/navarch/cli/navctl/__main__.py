"""``python -m navarch.cli.navctl``."""

from navarch.cli.navctl import main

raise SystemExit(main())
