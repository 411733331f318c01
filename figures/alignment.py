"""Make the `alignment` figure:
``python figures/alignment.py [--quick]`` (= ``bioplastic figure alignment``).

The figure, its caption and its checks live in :mod:`bioplastic.figures.alignment_fig`.
"""

import sys

from bioplastic.figures import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], name="alignment"))
