"""SPADE core library: plain Python, no Snakemake imports."""
