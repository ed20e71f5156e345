"""What early stopping saves a sweep: the same search and budget, without and with it.

    .venv/bin/python benchmarks/tuning.py [--trials 16] [--parallel 2] [--epochs 10] [--early-stopping median]

Both sweeps train the same real Keras model on the same synthetic data, over
the same search space, with the same seeded random sampler: they propose the
very same trials in the same order, so the only difference is the pruner.
Epochs run are counted from what each trial job actually reported (a pruned
trial's epochs up to its cancel included). Prints a table and a last line
`epochs_saved=X.XX best_delta=Y.YYYY` (the fraction of epochs saved; the best
objective without early stopping minus the best with it).
"""
from __future__ import annotations

import argparse
import os
import tempfile

# Binary classification with an interaction term: Adam's learning rate decides how far a model gets.
TRIAL_CODE = """
import numpy as np
import keras
import hubml.keras
rng = np.random.default_rng(0)
x = rng.normal(size=(3000, 10)).astype("float32")
y = (x[:, 0] + x[:, 1] * x[:, 2] - 0.5 * x[:, 3] > 0).astype("float32")
keras.utils.set_random_seed(1)
model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(units, activation="relu"),
                          keras.layers.Dense(units, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
model.compile(keras.optimizers.Adam(lr), "binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, validation_split=0.25, epochs=EPOCHS, batch_size=32, verbose=0,
          callbacks=[hubml.keras.ReportCallback(backup=False)])
"""
PARAMS = ["lr=loguniform(1e-5, 1)", "units=choice(8, 32)"]
OBJECTIVE = "val_accuracy"


def run_sweep(client, early_stopping: str, args: argparse.Namespace) -> dict:
    from hubml.specs import TrainSpec
    from hubml.tuning.spec import TuneSpec

    spec = TuneSpec(template=TrainSpec(name=f"bench-{early_stopping}", code=f"EPOCHS = {args.epochs}\n{TRIAL_CODE}"),
                    params=PARAMS, objective=OBJECTIVE, direction="maximize", trials=args.trials,
                    parallel=args.parallel, algorithm="random", early_stopping=early_stopping, seed=args.seed)
    sweep = client.tune(spec).wait(timeout=3600)
    record = sweep.record
    epochs = sum(len([m for m in client.job(trial.job_id).metrics() if "epoch" in m]) for trial in record.trials)
    best = record.best()
    return {"early stopping": early_stopping, "trials": len(record.trials), "pruned": record.count("PRUNED"),
            "epochs": epochs, "wall": record.duration, "best": best.objective,
            "best trial": f"{best.number} (lr={best.params['lr']:.3g}, units={best.params['units']})",
            "params": [trial.params for trial in record.trials]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--early-stopping", default="median", choices=["median", "hyperband"])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hubml-bench-") as home:
        os.environ["HUBML_HOME"] = home
        os.environ.pop("HUBML_STORAGE", None)
        from hubml.client import Client

        client = Client()
        rows = [run_sweep(client, "none", args), run_sweep(client, args.early_stopping, args)]
    assert rows[0]["params"] == rows[1]["params"], "the two sweeps must propose the same trials"
    print(f"{args.trials} trials x {args.epochs} epochs, {args.parallel} at a time, random search (seed {args.seed}) "
          f"over {', '.join(PARAMS)}; objective {OBJECTIVE}")
    print(f"{'early stopping':<16}{'trials':>7}{'pruned':>8}{'epochs run':>12}{'wall s':>9}{'best':>9}   best trial")
    for row in rows:
        print(f"{row['early stopping']:<16}{row['trials']:>7}{row['pruned']:>8}{row['epochs']:>12}{row['wall']:>9.1f}"
              f"{row['best']:>9.4f}   {row['best trial']}")
    saved = 1 - rows[1]["epochs"] / rows[0]["epochs"]
    print(f"epochs_saved={saved:.2f} best_delta={rows[0]['best'] - rows[1]['best']:.4f}")


if __name__ == "__main__":
    main()
