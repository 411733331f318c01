"""Make the `murray2019_fig3` figure:
``python figures/murray2019_fig3.py [--quick]`` (= ``bioplastic figure murray2019_fig3``).

The figure, its caption and its checks live in :mod:`bioplastic.figures.murray2019_fig3`.
"""

import sys

from bioplastic.figures import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], name="murray2019_fig3"))
