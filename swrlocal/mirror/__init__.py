"""Pull accelerator: per-account addresses and a pull-through cache of upstream registries."""
