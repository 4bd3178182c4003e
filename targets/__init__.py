"""Neuromorphic targets: hardware descriptions as data, placement, and backends."""

from sbn.targets.groups import Network, NeuronGroup, Projection, network_from_nir, read_network
from sbn.targets.placement import Core, GroupPlacement, Placement, place
from sbn.targets.registry import get_target, known_targets, load_target_file, resolve_target, save_target_file
from sbn.targets.report import MAP_SCHEMA, map_tables, read_report, report_dict, write_report
from sbn.targets.spec import TARGET_SCHEMA, FixedPointFormat, Target
from sbn.targets.traffic import Traffic, estimate_traffic, resolve_rates

__all__ = [
    "Core",
    "FixedPointFormat",
    "GroupPlacement",
    "MAP_SCHEMA",
    "Network",
    "NeuronGroup",
    "Placement",
    "Projection",
    "TARGET_SCHEMA",
    "Target",
    "Traffic",
    "estimate_traffic",
    "get_target",
    "known_targets",
    "load_target_file",
    "network_from_nir",
    "place",
    "read_network",
    "read_report",
    "map_tables",
    "report_dict",
    "resolve_rates",
    "resolve_target",
    "save_target_file",
    "write_report",
]
