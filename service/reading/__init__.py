"""Reading: a PDF (or a text/JSON file) into a Document of pages, then passages."""
