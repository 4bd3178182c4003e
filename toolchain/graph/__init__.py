"""NIR export, partitioning and the reference executor."""
