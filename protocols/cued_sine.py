"""Cued sine generation (Sussillo & Abbott 2009):
Train with one or more rules and compare them on held-out conditions.

    python protocols/cued_sine.py --rule bptt rflo eprop [--quick] [--out runs/]

Writes runs/cued_sine_<rule>.nc for each rule and runs/cued_sine.png.  The preset is
models/cued_sine.toml; ``--set table.key=value`` overrides it.
"""

import sys

from bioplastic.protocols import main

if __name__ == "__main__":
    sys.exit(
        main("cued_sine", "time", "Cued sine generation (Sussillo & Abbott 2009)", sys.argv[1:])
    )
