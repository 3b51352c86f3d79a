"""The data catalog: every product with logical path, file, type, version, MET range, checksum, provenance.

* :mod:`.models` -- the ``l1_catalog_dataset`` table (on the shared database).
* :mod:`.api` -- :func:`register` (idempotent) and :func:`query`.
"""

from fermi_l1.catalog.api import CatalogError, Registration, logical_path, product_path, query, register
from fermi_l1.catalog.models import Dataset

__all__ = ["CatalogError", "Dataset", "Registration", "logical_path", "product_path", "query", "register"]
