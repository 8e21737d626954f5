"""SuperCorrect: hierarchical thought SFT and cross-model DPO of a small student by a large teacher.

Stages, in order: prepare → annotate → sft → mine → dpo → evaluate → register. Each is a module
`supercorrect.<stage>` with `run(params)`, a CLI command `supercorrect <stage>`, a DVC stage and a
Prefect flow `flows/<stage>.py`. Importing this package does nothing else.
"""

STAGES = ("prepare", "annotate", "sft", "mine", "dpo", "evaluate", "register")
