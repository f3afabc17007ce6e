"""Pure feature computations and the feature adapter/loader shells."""
