"""`python -m mesostack`."""

from mesostack.cli import main

main()
