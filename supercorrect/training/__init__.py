"""Training components the `sft` and `dpo` stages share: the TRL wiring (`wiring`: arguments, LoRA,
resuming, saving, loss curves), checkpoint directories (`checkpoints`), the prefix-tree DPO
trainer (`dpo_fast`) and the quiet progress bar (`progress`).

This file imports nothing, so importing one module costs only what it needs.
"""
