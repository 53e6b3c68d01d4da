"""What jobctl manages, in backend-neutral terms: jobs, runs, logs, and the field table behind them."""
