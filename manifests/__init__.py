"""manifests room."""
