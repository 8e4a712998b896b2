"""`python -m runhive.cli`: the `runhive` command."""

import sys

from ._main import main

sys.exit(main())
