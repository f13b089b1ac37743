"""``python -m services.compiled build|check``: see :mod:`services.compiled`."""

from services.compiled import main

raise SystemExit(main())
