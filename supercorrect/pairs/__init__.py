"""Preference pairs and the erroneous solutions behind them: the Eq. 8 construction of cross-model
DPO pairs (`cross_model`) and the wrong steps `annotate` injects for correction-trace SFT
examples (`errors`).

This file imports nothing, so importing one module costs only what it needs.
"""
