"""The fault soak (``make soak``, ``python -m bench.soak``): the bot, live, under faults and kills.

The bot runs as its own process — ``polyloly run --live-money``, real signing, real HTTP, real
WebSockets, as ``polyloly demo`` runs it — against the local simulators the harness hosts
(the exchange with its lagging makers and takers, the esports feeds, the truth driver). The
harness injects the exchange's faults, SIGKILLs the bot (half of the time right after one of
its orders reached the venue) and restarts it, then compares the exchange's own records with
the bot's event log: duplicate orders, lost fills, position and collateral mismatches,
kill-switch reaction times, secrets in any file, starts that failed; and runs the market-frame
fuzzer (``bench.fuzz_market``) when the branch has it. One table, exit status 1 on a finding.

Modules: ``world`` (the simulators and an observer of the bot's orders), ``botproc`` (the bot
process), ``chaos`` (faults and kills from the seed), ``run`` (one seed), ``records`` and
``audit`` (what is compared, and the verdicts), ``leaks`` (the secret scan), ``fuzz``,
``report``, ``config``.
"""
