"""The half-year work summary: composed from entries, rendered to .docx, Markdown, text, .xlsx."""
