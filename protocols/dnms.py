"""Delayed nonmatch-to-sample (Miconi 2017):
Train with one or more rules and compare them on the four trial types (AA, AB, BA, BB).

    python protocols/dnms.py --rule miconi node_perturbation bptt [--quick] [--out runs/]

Writes runs/miconi2017_dnms_<rule>.nc for each rule and runs/miconi2017_dnms.png.  The preset
is models/miconi2017_dnms.toml (Miconi's rule with his code's values; another rule takes its
own defaults, with the same network, task, optimizer and 10,000 trials); ``--set
table.key=value`` overrides it.  About 3-4 min per rule on one core.
"""

import sys

from bioplastic.protocols import main

if __name__ == "__main__":
    sys.exit(
        main(
            "miconi2017_dnms",
            "time",
            "Delayed nonmatch-to-sample (Miconi 2017)",
            sys.argv[1:],
            quick_trials=60,
            rules=("miconi", "node_perturbation", "bptt"),
        )
    )
