"""Front ends: the Textual app and the `bmsdoc` command line. The only package that imports Textual."""
