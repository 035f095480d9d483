"""Defaults shared by the `bimo eval` commands and the library (no heavy imports: the CLI reads them)."""

#: bootstrap rounds behind every 95% interval bimo reports (win rates, ratings, calibration)
ROUNDS = 1000
#: items an agreement check judges unless told otherwise
AGREEMENT_ITEMS = 20
