"""Entry point of ``python -m mercenary_maintenance.demo``."""

from __future__ import annotations

import sys

from mercenary_maintenance.demo.run import main

sys.exit(main())
