import godex.providers.registry  # noqa: F401  (installs the spec catalog load_config asks)
