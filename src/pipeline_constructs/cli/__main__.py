"""``python -m pipeline_constructs.cli``."""

import sys

from pipeline_constructs.cli import main

sys.exit(main())
