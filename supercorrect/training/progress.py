"""Quiet training output: one labelled progress bar per Trainer run with the latest loss in it.

transformers' own ProgressCallback prints every log dict (`{'loss': ...}`) as a line of its
own; `quiet_progress(trainer, "sft")` swaps it for a bar labelled with the stage whose postfix
shows the loss (the full history still goes to trainer.state.log_history and plots/).
Used by the sft and dpo stages; nothing runs at import beyond importing transformers.
"""

from __future__ import annotations

from tqdm.auto import tqdm
from transformers import PrinterCallback, ProgressCallback, TrainerCallback


class StageProgress(TrainerCallback):
    """A single tqdm bar over the optimizer steps, on the main process only."""

    def __init__(self, desc: str):
        self.desc, self.bar = desc, None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.desc, unit="step",
                            dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is not None and logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def quiet_progress(trainer, desc: str):
    """Replace the Trainer's dict-printing progress callback with a `StageProgress(desc)` bar."""
    # With `disable_tqdm` (TRL sets it for some runs) the Trainer prints every log dict instead.
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(StageProgress(desc))
    return trainer
