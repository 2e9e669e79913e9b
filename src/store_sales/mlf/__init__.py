"""MLflow as a tracker; `mlflow` is imported only here (`store.py` does not import it)."""
