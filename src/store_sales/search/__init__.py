"""One search layer under two engines: `sweep` (W&B's `sweeps` engine offline, the W&B server
online) and `tune` (Optuna) are adapters on it.

    template   the template tuned: its metrics, reserved parameters, defaults; the YAML loaded
    checklist  one search-space checklist (names, types, ranges, fixed parameters, grid size)
    trials     the trial-folder convention (`<folder>/trials/<trial>/`) and running one trial
    pool       one worker pool: trials run inline or in spawned processes, a controller asks
    results    the results table (results.csv), best.yaml and the printed outcome
    hook       the step-judging hook base: fold 1's curve, reported and judged, `StopTraining`

The engines import this package; it imports neither of them (nor W&B, nor Optuna).
"""
