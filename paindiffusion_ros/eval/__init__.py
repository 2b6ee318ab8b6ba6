"""Evaluation: the paper's metrics (Sim, Corr, Dist, Divrs, Var) and baselines."""
