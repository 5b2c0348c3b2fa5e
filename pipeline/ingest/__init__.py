"""Call audio ingest: websocket gateway (native + Twilio Media Streams) and file replay into Kafka."""
