"""canaria: run SAM applications locally and canary-deploy them as production should."""

__version__ = "0.1.0"
