"""Replication of the paper: the authors' repository, the import of their run, rescore."""
