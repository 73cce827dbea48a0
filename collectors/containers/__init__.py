"""Container stdout/stderr: Docker json-file and Kubernetes/CRI logs, with their containers' metadata."""
