"""What ``polyloly optimize`` leaves in its run folder: the table, the plots, the overlay.

* :func:`table_lines` — the best trials (and the baseline): training and held-out score,
  PnL, max drawdown, fills, and each searched value; ``trials.csv`` holds every trial.
* :func:`write_report` — ``report.html``: optuna's optimization history, parameter
  importances (fANOVA) and slice plots, with the table; one file, plotly.js embedded, opens
  offline (:mod:`polyloly.backtest.iplot`).
* :func:`write_overlay` — ``config/optimized.yaml`` beside a copy of ``base.yaml``: the
  ``--env`` overlay the search ran with, its ``--set`` values, the space's ``fixed`` keys
  and the best trial's values, which every command loads with
  ``--config-dir RUN/config --env optimized``.
"""

from __future__ import annotations

import csv
import html
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import optuna
import yaml

from polyloly.backtest.iplot import figure_html, interactive_document
from polyloly.backtest.optimize_space import SearchSpace, Value
from polyloly.bot.config_loader import load_yaml, nest, overlay, resolve_config_dir
from polyloly.bot.optimize import ConfigSource, Rescore
from polyloly.runtime.errors import ConfigError

__all__ = [
    "OVERLAY_ENV",
    "set_options",
    "table_lines",
    "write_overlay",
    "write_report",
    "write_trials_csv",
]

OVERLAY_ENV = "optimized"


def _usd(micros: Any) -> str:
    if micros is None or micros == "":
        return "—"
    return f"{Decimal(int(micros)) / Decimal(1_000_000):+,.2f}"


def _dd(micros: Any) -> str:
    return "—" if micros is None else f"{Decimal(int(micros)) / Decimal(1_000_000):,.2f}"


def _score(record: Mapping[str, Any] | None) -> str:
    return "—" if not record else f"{Decimal(record['score']):+,.2f}"


def _short(key: str) -> str:
    return key.split(".", 1)[1] if key.startswith("strategies.") else key


_SCORE_HEADERS = (
    "rank",
    "trial",
    "train score",
    "held-out score",
    "train PnL",
    "held-out PnL",
    "train max DD",
    "held-out max DD",
    "train fills",
    "held-out fills",
)


def _score_cells(row: Rescore) -> list[str]:
    held = row.held or {}
    return [
        row.label,
        "—" if row.number is None else str(row.number),
        _score(row.train) if not row.refused else "refused",
        _score(row.held),
        _usd(row.train.get("pnl")),
        _usd(held.get("pnl")),
        _dd(row.train.get("max_drawdown")),
        _dd(held.get("max_drawdown")),
        str(row.train.get("fills", "—")),
        str(held.get("fills", "—")),
    ]


def table_rows(rows: Sequence[Rescore], space: SearchSpace) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the best-trials table (scores, then each searched value)."""
    headers = [*_SCORE_HEADERS, *(_short(p.key) for p in space.params)]
    cells = [
        _score_cells(row) + [row.values.get(p.key, "(config)") for p in space.params]
        for row in rows
    ]
    return headers, cells


def _aligned(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    first = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    out = [first, "-" * len(first)]
    return out + ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]


def table_lines(rows: Sequence[Rescore], space: SearchSpace) -> list[str]:
    """The table as text: scores and money (pUSD) per row, then the values, one key a line."""
    out = _aligned(_SCORE_HEADERS, [_score_cells(r) for r in rows])
    out.append("")
    labels = [r.label for r in rows]
    values = [[p.key, *(r.values.get(p.key, "(config)") for r in rows)] for p in space.params]
    out += _aligned(["value", *labels], values)
    out += [f"{r.label}: refused: {r.refused}" for r in rows if r.refused]
    return out


def write_trials_csv(study: optuna.Study, space: SearchSpace, path: Path) -> Path:
    """Every trial: number, state, score, PnL, drawdown, fills, orders, worker, values."""
    keys = [p.key for p in space.params]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["trial", "state", "score", "pnl", "max_drawdown", "fills", "orders", "worker", *keys]
        )
        for trial in sorted(study.trials, key=lambda t: t.number):
            attrs = trial.user_attrs
            params = {
                p.key: p.value(trial.params[p.key]) for p in space.params if p.key in trial.params
            }
            writer.writerow(
                [
                    trial.number,
                    trial.state.name,
                    attrs.get("score", ""),
                    _usd(attrs.get("pnl")) if "pnl" in attrs else "",
                    _dd(attrs.get("max_drawdown")) if "max_drawdown" in attrs else "",
                    attrs.get("fills", ""),
                    attrs.get("orders", ""),
                    attrs.get("worker", ""),
                    *(str(params.get(k, "")) for k in keys),
                ]
            )
    return path


def _importance(study: optuna.Study) -> Any:
    """optuna's importance plot with PED-ANOVA (its default, fANOVA, needs scikit-learn)."""
    from optuna import visualization as vis  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
        return vis.plot_param_importances(study, evaluator=evaluator)


def _figures(study: optuna.Study) -> list[str]:
    from optuna import visualization as vis  # noqa: PLC0415 - plotly: only when writing

    sections: list[str] = []
    plots = (
        (
            "plot-history",
            "Optimization history: each trial's training score and the best so far.",
            vis.plot_optimization_history,
        ),
        (
            "plot-importance",
            "Parameter importance (PED-ANOVA over the finished trials).",
            _importance,
        ),
        ("plot-slice", "Each parameter's values against the training score.", vis.plot_slice),
    )
    for figure_id, caption, plot in plots:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fig = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError, ImportError) as exc:
                sections.append(f"<p>{html.escape(caption)} Not drawn: {html.escape(str(exc))}</p>")
                continue
        notes = " ".join(f"Note: {w.message}" for w in caught)
        sections.append(figure_html(figure_id, fig, f"{caption} {notes}".strip()))
    return sections


def write_report(
    study: optuna.Study, rows: Sequence[Rescore], space: SearchSpace, path: Path, subtitle: str
) -> Path:
    """``report.html``: the plots and the best-trials table (offline, one file)."""
    headers, cells = table_rows(rows, space)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells
    )
    table = (
        "<h2>Best trials, re-scored on the held-out set</h2>"
        f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        f"<p>score = PnL − {space.penalty} × max drawdown (pUSD), over the replays end to "
        "end. Synthetic where the logs are scenario runs: see the README.</p>"
    )
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    sections = [table, *(_figures(study) if completed else ["<p>No finished trial.</p>"])]
    path.write_text(interactive_document("polyloly optimize", subtitle, sections), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# The overlay
# ---------------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """YAML out with exact decimals (written as plain numbers, read back as Decimal)."""


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    text = format(value, "f")
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return dumper.represent_scalar(tag, text)


_Dumper.add_representer(Decimal, _represent_decimal)


def _overlay_env(config: ConfigSource) -> str:
    return config.env or os.environ.get("POLYLOLY_ENV") or "dev"


def write_overlay(
    out: Path,
    config: ConfigSource,
    space: SearchSpace,
    values: Mapping[str, Value],
    header: Sequence[str],
) -> Path:
    """``out/config/optimized.yaml`` (and a copy of ``base.yaml``); its path."""
    source = resolve_config_dir(config.config_dir, os.environ)
    env = _overlay_env(config)
    overlay_path = source / f"{env}.yaml"
    try:
        data = load_yaml(overlay_path.read_text(encoding="utf-8"), overlay_path.name) or {}
    except OSError as exc:
        raise ConfigError(f"env: cannot read {overlay_path} ({exc.strerror})") from None
    overlay(data, nest(config.sets), nest(space.fixed), nest(values))
    folder = out / "config"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "base.yaml", folder / "base.yaml")
    comments = "".join(f"# {line}\n" for line in header)
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    path = folder / f"{OVERLAY_ENV}.yaml"
    path.write_text(
        f"# polyloly optimize: the {env}.yaml overlay (and --set) the search ran with, the "
        "space's fixed keys and the best trial's values.\n" + comments + text,
        encoding="utf-8",
    )
    return path


def set_options(space: SearchSpace, values: Mapping[str, Value]) -> str:
    """The same values as ``--set`` options (fixed keys first)."""

    def text(value: Value) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return format(value, "f") if isinstance(value, Decimal) else str(value)

    merged = {**space.fixed, **values}
    return " ".join(f"--set {k}={text(v)}" for k, v in merged.items())
