"""Notebooks written with nbformat, and what their outputs printed: for the batch and cluster tests."""
from __future__ import annotations

import nbformat


def write_notebook(path, *cells: str, parameters: str | None = None) -> str:
    """A notebook of code cells; `parameters` becomes the cell tagged `parameters`, as papermill expects."""
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        book.cells.append(cell)
    book.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(book, path)
    return str(path)


def outputs_text(path) -> str:
    book = nbformat.read(str(path), as_version=4)
    return "".join(output.get("text", "") for cell in book.cells for output in cell.get("outputs", []))

