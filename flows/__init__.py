"""Prefect flows: one per stage (`flows/<stage>.py`) and the whole pipeline (`flows/pipeline.py`)."""
