"""Everything that talks to Weights & Biases; no other module of the package imports wandb."""
