"""Make the `murray2019_fig4` figure:
``python figures/murray2019_fig4.py [--quick]`` (= ``bioplastic figure murray2019_fig4``).

The figure, its caption and its checks live in :mod:`bioplastic.figures.murray2019_fig4`.
"""

import sys

from bioplastic.figures import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], name="murray2019_fig4"))
