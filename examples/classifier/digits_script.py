"""The training script a user already had: plain PyTorch, no phasegate in it.

    python digits_script.py      # trains, prints each epoch, saves digits.pt

Handwritten digits (scikit-learn's 8x8 images), a small MLP, Adam.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn


def load(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """train 60%, val 20%, test 20% of the digits, always the same examples."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    cut = {"train": order[:1078], "val": order[1078:1437], "test": order[1437:]}[split]
    x = torch.tensor(digits.data[cut] / 16.0, dtype=torch.float32)
    return x, torch.tensor(digits.target[cut], dtype=torch.long)


def make_model(hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def train(lr: float = 1e-3, epochs: int = 10, hidden: int = 64, batch_size: int = 64,
          weight_decay: float = 0.0, seed: int = 0,
          on_epoch: Callable[[int, dict[str, float]], bool] | None = None) -> nn.Module:
    """Train and return the model; `on_epoch(epoch, metrics)` returning True stops early."""
    torch.manual_seed(seed)
    model = make_model(hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    x, y = load("train")
    x_val, y_val = load("val")
    for epoch in range(1, epochs + 1):
        model.train()
        total = 0.0
        for batch in torch.randperm(len(x)).split(batch_size):
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            val_loss = float(nn.functional.cross_entropy(logits, y_val))
            val_accuracy = float((logits.argmax(1) == y_val).float().mean())
        metrics = {"train_loss": total / len(x), "val_loss": val_loss,
                   "val_accuracy": val_accuracy}
        print(f"epoch {epoch}: {metrics}")
        if on_epoch is not None and on_epoch(epoch, metrics):
            break
    return model


if __name__ == "__main__":
    torch.save(train().state_dict(), "digits.pt")
