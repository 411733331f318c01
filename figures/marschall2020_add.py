"""Make the `marschall2020_add` figure:
``python figures/marschall2020_add.py [--quick]`` (= ``bioplastic figure marschall2020_add``).

The figure, its caption and its checks live in :mod:`bioplastic.figures.marschall2020_add`.
"""

import sys

from bioplastic.figures import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], name="marschall2020_add"))
