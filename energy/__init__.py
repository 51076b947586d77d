"""Energy and data-movement model."""
