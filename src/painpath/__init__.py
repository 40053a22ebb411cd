"""painpath: guideline-based clinical decision support for chronic musculoskeletal pain."""

__version__ = "0.1.0"
