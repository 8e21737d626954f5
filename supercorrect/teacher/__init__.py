"""The teacher: the `reference` and `openai` backends (`backends`), the async client with retries,
rate limits and budget (`client`), what it and the Batch API path (`batch`) share on the wire
(`wire`), the exactly-once cache and cost ledger (`cache`), the checks every output passes
(`checks`) and the cost estimate of a dry run (`estimate`).

This file imports nothing, so importing one module costs only what it needs.
"""
