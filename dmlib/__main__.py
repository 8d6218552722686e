"""``python -m dmlib``: see :mod:`dmlib.cli`."""

from dmlib.cli import main

raise SystemExit(main())
