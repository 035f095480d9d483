"""`python -m bimo.train STAGE ...`: the entry each process runs under `accelerate launch`."""

from bimo.train.cli import main

main()
