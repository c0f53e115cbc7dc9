"""Run by tests/test_scaling.py under torchrun: a 2-process CPU (gloo) fit.

Each rank writes its final weights and predictions to ``<out>/rank<r>.pt``.
"""

import sys
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator

from sklearn_genre.scaling import AcceleratedCRNNClassifier


def main(out):
    accelerator = Accelerator(cpu=True)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 16, 64)).astype(np.float32)
    y = np.array(["blues", "rock"] * 32)
    X[y == "rock", :4] += 2.0
    clf = AcceleratedCRNNClassifier(accelerator=accelerator, max_epochs=4, batch_size=16,
                                    lr=0.01, lr_schedule=None, train_split=None, verbose=0,
                                    random_state=0, module__dropout=0.1,
                                    module__channels=(8, 16), module__pools=((2, 2), (2, 2)),
                                    module__hidden_size=16)
    clf.fit(X, y)
    state = {k: v.detach().clone() for k, v in clf.module_.state_dict().items()}
    torch.save({"state": state, "world_size": accelerator.num_processes,
                "history": len(clf.history_), "accuracy": float(clf.score(X, y))},
               Path(out) / f"rank{accelerator.process_index}.pt")


if __name__ == "__main__":
    main(sys.argv[1])
