"""pyinfra deploys, one per concern. deploy.py composes them; each reads the gateway model only."""
