"""Synthetic B2B funnels (leads, activities, outcomes) in the import format, for demos, tests and
benchmarks: `generate_funnel`, `write_funnel`, `to_feature_frames`."""

from leadml.synth.generator import SyntheticFunnel, generate_funnel

__all__ = ["SyntheticFunnel", "generate_funnel"]
