"""The micro-credential catalog: YAML files in rubrics/ loaded into pydantic models."""

from credflow.catalog.loader import Catalog, CatalogError, load_catalog
from credflow.catalog.models import Credential, EvidenceKind, EvidenceRequirement

__all__ = ["Catalog", "CatalogError", "Credential", "EvidenceKind", "EvidenceRequirement", "load_catalog"]
