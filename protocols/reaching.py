"""Center-out reaching: train with one or more rules and compare them on held-out conditions.

    python protocols/reaching.py --rule bptt rflo eprop [--quick] [--out runs/]

Writes runs/reaching_<rule>.nc for each rule and runs/reaching.png.  The preset is
models/reaching.toml; ``--set table.key=value`` overrides it.
"""

import sys

from bioplastic.protocols import main

if __name__ == "__main__":
    sys.exit(main("reaching", "path", "Center-out reaching", sys.argv[1:]))
