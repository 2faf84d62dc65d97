"""GraphQL gateway for an SWR-compatible container registry and CI/CD service."""
