"""Online predictions from the registry's production model (`modelops serve`)."""
