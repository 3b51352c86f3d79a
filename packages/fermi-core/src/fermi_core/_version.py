"""Version of fermi-core (PEP 440), read by hatchling and by ``fermi-core --version``."""

__version__ = "0.1.0.dev0"
