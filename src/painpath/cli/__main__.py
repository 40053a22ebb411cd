"""``python -m painpath.cli``: the painpath command line."""

import sys

from painpath.cli.main import main

sys.exit(main())
