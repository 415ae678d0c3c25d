"""minisora: a Sora-style text-to-video system trained on its own procedural physics world.

Importing the package is cheap: torch and PyAV load only in the modules that need them.
"""

__version__ = "0.1.0"
