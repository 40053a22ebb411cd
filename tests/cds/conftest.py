"""The CDS tests' shared server (``tests.cds.hook_requests.py``)."""

from tests.cds.hook_requests import gp_service

__all__ = ["gp_service"]
