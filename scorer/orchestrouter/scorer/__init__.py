"""The scorer: a stateless gRPC service that runs a router model on batches of embeddings."""
