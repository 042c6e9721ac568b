"""Pure feature extraction (SPEC section 4).

One lead: `extract_features(lead, activities, as_of=..., timezone=...)` -> grouped dict, and
`flatten` for flat names. Many leads: `extract_feature_table(leads, activities, ...)` -> polars
frame with the same values. The catalogue (names, types, definitions) is in `catalogue`.
"""

from leadml.features.attributes import (
    CUSTOM_PREFIX,
    AttributeKind,
    AttributeKindCounter,
    coerce_attribute,
    infer_attribute_kind,
    infer_attribute_kinds,
    infer_frame_attribute_kinds,
)
from leadml.features.catalogue import FEATURE_NAMES, FEATURES, FEATURES_BY_NAME, FeatureSpec
from leadml.features.frames import activities_frame, leads_frame
from leadml.features.single import extract_features, flatten
from leadml.features.table import extract_feature_table

__all__ = [
    "CUSTOM_PREFIX",
    "FEATURES",
    "FEATURES_BY_NAME",
    "FEATURE_NAMES",
    "AttributeKind",
    "AttributeKindCounter",
    "FeatureSpec",
    "activities_frame",
    "coerce_attribute",
    "extract_feature_table",
    "extract_features",
    "flatten",
    "infer_attribute_kind",
    "infer_attribute_kinds",
    "infer_frame_attribute_kinds",
    "leads_frame",
]
