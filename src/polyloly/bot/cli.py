"""polyloly command line."""

import typer

app = typer.Typer(help="polyloly: esports algo-trader for Polymarket")


def main() -> None:
    """Run the CLI."""
    app()
