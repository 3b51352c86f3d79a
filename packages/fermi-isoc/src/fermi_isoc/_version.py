"""Version of the package (read by hatchling and by the recipes check)."""

__version__ = "0.1.0.dev0"
