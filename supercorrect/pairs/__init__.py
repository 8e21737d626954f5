"""Preference pairs for DPO, one module per kind, and the admission every pair passes.

* `cross_model`: the paper's Eq. 8 pairs: the teacher's trace from the first wrong step k
  against the blind student's own, in the correction-trace context;
* `step_dpo`: Step-DPO's pairs (the ablation): the student's own right step k against its
  wrong step k, in the solve context;
* `keep`: keep pairs (beyond the paper): a right solution kept as written against the
  student's false flag of one of its steps;
* `admission`: what the three share: the located errors they read (`Located`), how a pair is
  labelled (`PairSpec`), and the checks every pair passes before it counts (`Admission`:
  the token boundary, the generation point, duplicates with their prompt, the per-problem cap).

This file imports nothing, so importing one module costs only what it needs.
"""
