"""The HTTP API: FastAPI app factory, schemas, dependencies and one module per resource."""
