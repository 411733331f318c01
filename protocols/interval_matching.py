"""Interval matching (Murray 2019, Fig. 3):
Train with one or more rules and compare them on held-out conditions.

    python protocols/interval_matching.py --rule bptt rflo eprop [--quick] [--out runs/]

Writes runs/murray2019_interval_<rule>.nc for each rule and
runs/murray2019_interval.png.  The preset is
models/murray2019_interval.toml; ``--set table.key=value`` overrides it.
"""

import sys

from bioplastic.protocols import main

if __name__ == "__main__":
    sys.exit(
        main("murray2019_interval", "time", "Interval matching (Murray 2019, Fig. 3)", sys.argv[1:])
    )
