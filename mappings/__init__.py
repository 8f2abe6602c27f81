"""Declarative agency → canonical mappings (one YAML file per agency) and the small engine that applies them.

See `mappings/README.md` for the file format and the list of transforms.
"""

from mappings.engine import Mapping, MappingError, load_mapping, load_mapping_file

__all__ = ["Mapping", "MappingError", "load_mapping", "load_mapping_file"]
