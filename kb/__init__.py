"""Knowledge base: load, validate and query the versioned YAML in content/."""
