"""polyloly: an algorithmic trader for Polymarket's esports markets."""

__version__ = "0.1.0"
