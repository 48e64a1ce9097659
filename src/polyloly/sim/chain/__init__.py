"""A real local chain for the on-chain tests and demo: anvil plus contracts written here.

* :mod:`.tools` — finds ``anvil`` and ``solcjs`` (installed from the npm registry by the
  Makefile's set-up, ``package-lock.json``) and compiles ``contracts/*.sol`` (cached by hash);
* :mod:`.anvil` — starts and stops an anvil process on a loopback port;
* :mod:`.deploy` — deploys the pUSD-like collateral, the Conditional Tokens, the collateral
  adapters and the exchange stand-ins, prepares and resolves conditions, funds wallets.

Only the Conditional Tokens follow a public specification (Gnosis ConditionalTokens); the
adapters and the exchange stand-in are written from the protocol reference's description.
"""
