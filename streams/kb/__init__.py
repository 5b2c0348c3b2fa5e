"""Knowledge base retrieval and intent recognition (pure: no Faust, no Kafka)."""
