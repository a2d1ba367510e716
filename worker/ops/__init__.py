"""Operations at the edges: configuration, logging, metrics and the health server."""
