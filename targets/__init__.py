"""Neuromorphic targets: hardware descriptions as data, placement, and backends."""
