"""The router: validation, embedding, threshold policy, dispatch to the model endpoints."""
