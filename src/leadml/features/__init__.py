"""Pure feature extraction (SPEC section 4)."""
