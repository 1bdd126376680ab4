"""Training of refinement policies (GRPO, SFT, DPO) on afterburner trajectories."""
