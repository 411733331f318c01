"""Make the `williams_zipser1989` figure:
``python figures/williams_zipser1989.py [--quick]`` (= ``bioplastic figure williams_zipser1989``).

The figure, its caption and its checks live in :mod:`bioplastic.figures.williams_zipser1989`.
"""

import sys

from bioplastic.figures import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], name="williams_zipser1989"))
