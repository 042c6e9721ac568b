"""`leadml evaluate FILE --target COLUMN`: model quality on a CSV, next to reference baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from leadml.cli import app
from leadml.cli.common import fail, out
from leadml.evaluate import InputError, calibration_plot, evaluate_frame, load_table

METRICS = ("auc", "pr_auc", "brier", "ece", "log_loss", "lift_top_decile")


@app.command()
def evaluate(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file, one lead per row")],
    target: Annotated[str, typer.Option("--target", help="Column saying whether the lead converted")],
    positive: Annotated[str | None, typer.Option(help="Target value that means converted")] = None,
    sep: Annotated[str, typer.Option(help="Field separator")] = ",",
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Column to leave out (repeatable)")] = None,
    na_values: Annotated[list[str] | None,
                         typer.Option("--na-values", help="Text meaning missing, e.g. Select (repeatable)")] = None,
    time_column: Annotated[str | None,
                           typer.Option(help="Split by this column: oldest 80 % train, newest 20 % test")] = None,
    start_column: Annotated[str | None, typer.Option(help="When the lead started (for time to close)")] = None,
    close_column: Annotated[str | None, typer.Option(help="When the lead closed; empty = still open")] = None,
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds without --time-column")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    plot: Annotated[Path | None, typer.Option(help="Where to write the calibration plot (PNG)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables")] = False,
) -> None:
    """Train on the file's columns with the service's own model and report out-of-sample quality."""
    if (start_column is None) != (close_column is None):
        fail("--start-column and --close-column go together", code=2)
    try:
        frame = load_table(file, sep=sep, na_values=na_values or ())
    except pd.errors.EmptyDataError:
        fail(f"{file.name} is empty: a header row and one row per lead are needed")
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        fail(f"cannot read {file.name} as a {sep!r}-separated file: {exc}".replace("\n", " "))
    try:
        report = evaluate_frame(frame, target=target, positive=positive, exclude=exclude or (),
                                time_column=time_column, start_column=start_column, close_column=close_column,
                                folds=folds, seed=seed)
    except InputError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(report))
        return
    split = report["split"]
    how = (f"time split on {split['column']}: {split['train_rows']} oldest train, {split['test_rows']} newest test"
           if split["kind"] == "time" else f"stratified {split['folds']}-fold cross-validation")
    table = Table(title=f"{file.name}: {report['rows']} leads, {report['positives']} converted ({how})")
    table.add_column("model")
    for name in METRICS:
        table.add_column(name, justify="right")
    rows = {"leadml": report["conversion"], **report["baselines"]}
    for name, values in rows.items():
        table.add_row(name.replace("_", " "), *(f"{values[m]:.4f}" for m in METRICS))
    out.print(table)
    if "time_to_close" in report:
        ttc = report["time_to_close"]
        out.print(f"time to close: C-index {ttc['c_index']:.3f}, MAE {ttc['mae_days']:.1f} days, "
                  f"80 % interval coverage {ttc['interval_coverage']:.1%} ({ttc['test_closed']} closed test leads)")
    dropped = ", ".join(f"{c} ({why})" for c, why in report["dropped_columns"].items())
    out.print(f"features: {len(report['features'])}; not used: {dropped}")
    path = calibration_plot(report, plot or Path(f"{file.stem}-calibration.png"))
    out.print(f"calibration plot: {path}")
