"""Problems: loading and checking datasets, the intent-check language, importers."""
