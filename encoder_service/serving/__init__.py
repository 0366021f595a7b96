"""The encoder service: policy, budgets, batching across clients, the handler, the servicer
and the server that assembles them."""
