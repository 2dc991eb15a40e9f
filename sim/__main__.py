"""``python -m sim``: the ``sim`` command."""

from sim.cli.main import main

raise SystemExit(main())
