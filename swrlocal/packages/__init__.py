"""Software packages: OCI artifact repositories (kind `package`) and their REST API."""
