"""Make the `marschall2020_mimic` figure:
``python figures/marschall2020_mimic.py [--quick]`` (= ``bioplastic figure marschall2020_mimic``).

The figure, its caption and its checks live in :mod:`bioplastic.figures.marschall2020_mimic`.
"""

import sys

from bioplastic.figures import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], name="marschall2020_mimic"))
