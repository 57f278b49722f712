"""flink-hologres building blocks: one module per piece, importable without side effects."""
