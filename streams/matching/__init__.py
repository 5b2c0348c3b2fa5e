"""The text layer under the KB and the compliance rules: normalisation, tokenisation,
the phrase matcher and reloading data files."""
