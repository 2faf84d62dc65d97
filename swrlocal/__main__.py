import sys

from swrlocal.cli import main

sys.exit(main())
