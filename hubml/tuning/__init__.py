"""Hyperparameter tuning: sweeps of trial jobs, sampled and pruned by Optuna (ask-and-tell).

    space.py       `--param "lr=loguniform(1e-4,1e-1)"` -> Optuna distributions
    spec.py        `TuneSpec`: a `TrainSpec` template, the search space, objective and budget
    options.py     the `%%tune` / `hubml tune submit` flags, declared once
    algorithms.py  the sampler per `--algorithm`, the pruner per `--early-stopping`
    records.py     sweep and trial records in the local store
    launch.py      start a sweep's detached driver; cancel a sweep
    driver.py      the driver process: trials in, metrics to the pruner, results to the study
    trial.py       one trial in flight
    text.py, plot.py  how a sweep shows itself
"""
