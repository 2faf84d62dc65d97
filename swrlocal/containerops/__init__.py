"""ContainerOps: pipeline groups, templates, pipelines, triggers and the runner (`/v3/manage`)."""
