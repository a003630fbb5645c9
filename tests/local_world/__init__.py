"""The local API world: servers on 127.0.0.1 that speak the outside services' real wire formats.

Each service module (openai, serpapi, exa, gmail, smtp) builds on `LocalService`: a real HTTP
server in a thread, with knobs that tests and benchmarks turn: added latency, scripted faults
(429 with Retry-After, 500, a stall past the client's timeout, a malformed body), and a log of
every request it received.
"""
