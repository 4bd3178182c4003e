"""Lava backend: NIR graphs as Lava processes on simulated neuromorphic cores."""
