"""Records: the Parquet tables a job writes and reads back, resume, provenance, totals."""
