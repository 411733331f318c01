"""Ready-Set-Go (Jazayeri & Shadlen 2015):
Train with one or more rules and compare them on held-out conditions.

    python protocols/ready_set_go.py --rule bptt rflo eprop [--quick] [--out runs/]

Writes runs/ready_set_go_<rule>.nc for each rule and runs/ready_set_go.png.  The preset is
models/ready_set_go.toml; ``--set table.key=value`` overrides it.
"""

import sys

from bioplastic.protocols import main

if __name__ == "__main__":
    sys.exit(main("ready_set_go", "time", "Ready-Set-Go (Jazayeri & Shadlen 2015)", sys.argv[1:]))
