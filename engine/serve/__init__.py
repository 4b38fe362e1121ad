"""The engine process: its wire protocol, runtime files, server, service and client."""
