"""Make the `javed2023_trace_patterning` figure:
``python figures/javed2023_trace_patterning.py [--quick]``
(= ``bioplastic figure javed2023_trace_patterning``).

The figure, its caption and its checks live in
:mod:`bioplastic.figures.javed2023_trace_patterning`.
"""

import sys

from bioplastic.figures import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], name="javed2023_trace_patterning"))
