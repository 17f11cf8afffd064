"""``python -m sim.mutation``: see ``sim/mutation/cli.py``."""

from .cli import main

raise SystemExit(main())
