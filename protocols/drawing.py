"""Cued trajectory drawing: train with one or more rules and compare them on held-out conditions.

    python protocols/drawing.py --rule bptt rflo eprop [--quick] [--out runs/]

Writes runs/drawing_<rule>.nc for each rule and runs/drawing.png.  The preset is
models/drawing.toml; ``--set table.key=value`` overrides it.
"""

import sys

from bioplastic.protocols import main

if __name__ == "__main__":
    sys.exit(main("drawing", "path", "Cued trajectory drawing", sys.argv[1:]))
