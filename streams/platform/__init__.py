"""What every callassist process stands on: settings, Kafka clients, the brokers, observability
(/metrics, /healthz, shared series, lag) and the process bootstrap. Imports only the contract."""
