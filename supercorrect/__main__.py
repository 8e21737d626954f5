"""`python -m supercorrect` is the same as the `supercorrect` console script."""

from supercorrect.cli import main

raise SystemExit(main())
