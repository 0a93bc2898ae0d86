"""Entry point of ``python -m mercenary_dev.demo``."""

from __future__ import annotations

import sys

from mercenary_dev.demo.run import main

sys.exit(main())
