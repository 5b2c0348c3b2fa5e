"""Bundled sample knowledge base and compliance rules (a package so the YAML files ship in the wheel)."""
