"""`rag eval`: run a question set through the service and measure retrieval, answers, honesty and latency."""
