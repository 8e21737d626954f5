"""Problems in: loaders for GSM8K, MATH, MATH500, NuminaMath-CoT, MetaMathQA and the hub
(`loaders`), decontamination against the test sets (`decontam`) and the synthetic demo problems
(`synthetic`).

This file imports nothing, so importing one module costs only what it needs.
"""
