"""quantload package."""
