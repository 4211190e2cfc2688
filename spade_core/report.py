"""Aggregation over seeds and the paper tables (CSV, Markdown, booktabs LaTeX)."""


def aggregate(cells, metrics_out, summary_out, log_file=None) -> None:
    raise NotImplementedError("aggregate is not implemented yet (issue #8); the workflow stops here")


def write_tables(summary, cells, outdir, log_file=None) -> None:
    raise NotImplementedError("tables are not implemented yet (issue #8); the workflow stops here")
