"""The student: building the tiny model (`build`), loading and rendering (`load`), batched generation
(`decode`, and `engine`, which picks it or vLLM), the shared-prefix forward used in training
(`shared_prefix`), and what a saved student folder carries (`saved_model`).

This file imports nothing, so importing one module costs only what it needs.
"""
