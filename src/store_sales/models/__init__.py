"""Model adapters: each wraps one library behind `base.ModelAdapter`; nothing else imports it."""
