"""The OCI distribution / Docker Registry V2 endpoint at `/v2/`."""
