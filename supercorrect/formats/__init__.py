"""The text the models read and write: prompts (`prompts`), the XML thought templates and
corrections (`templates`), GSM8K calculator notes (`gsm8k_notes`) and the ShareGPT export of
the pairs (`export`).

This file imports nothing, so importing one module costs only what it needs.
"""
