"""Make the `miconi2017` figure:
``python figures/miconi2017.py [--quick]`` (= ``bioplastic figure miconi2017``).

The figure, its caption and its checks live in :mod:`bioplastic.figures.miconi2017`.
"""

import sys

from bioplastic.figures import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], name="miconi2017"))
