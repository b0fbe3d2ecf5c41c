"""Write a synthetic churn table to ``data/churn.csv`` next to this file (deterministic).

    python examples/churn/make_data.py [--rows 2000] [--seed 0]

Run it again with another ``--seed`` to change the file: the data-watch deployment of
``trackflow-csv.yaml`` notices the new fingerprint and starts a retraining run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["make_churn"]


def make_churn(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    """A churn table: tenure, charges, support calls, contract length -> churned (0/1)."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    charges = rng.normal(65, 20, rows).clip(15, 150).round(2)
    calls = rng.poisson(1.5, rows)
    contract = rng.choice([1, 12, 24], rows, p=[0.5, 0.3, 0.2])
    score = -1.5 - 0.04 * tenure + 0.02 * (charges - 65) + 0.45 * calls - 0.05 * contract
    churned = (rng.random(rows) < 1 / (1 + np.exp(-score))).astype(int)
    return pd.DataFrame({"tenure_months": tenure, "monthly_charges": charges, "support_calls": calls,
                         "contract_months": contract, "churned": churned})


def main() -> None:
    """Parse the options and write the file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    target = Path(__file__).resolve().parent / "data" / "churn.csv"
    target.parent.mkdir(exist_ok=True)
    make_churn(args.rows, args.seed).to_csv(target, index=False)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
