"""Settings: the TOML file and the environment validated once into frozen typed settings."""
