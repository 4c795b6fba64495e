"""Reading: a PDF (or a text/JSON file) into a Document of pages, then passages.

ingest (validation, page texts, clean-up, language), pdf_limits (what one PDF may cost), sandbox and
sandbox_child (the capped child process, the only importer of a PDF library), page_images (highlights),
segment (sentences into passages under their headings).
"""
