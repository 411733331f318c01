"""Make the `solutions` figure:
``python figures/solutions.py [--quick]`` (= ``bioplastic figure solutions``).

The figure, its caption and its checks live in :mod:`bioplastic.figures.solutions`.
"""

import sys

from bioplastic.figures import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], name="solutions"))
