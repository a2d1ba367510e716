"""One request's life, testable without a broker: decode → token → create → follow job → event."""
