"""A notebook's code cells as units of source, without running anything.

Split from submission.py (which finds and reads a submission's files): nbformat-4 notebooks are
read with json (nbformat only for older or odd files), IPython magics are translated with
IPython's own transformer, and each cell is split into top-level statements.
"""

from __future__ import annotations

import ast
import json

from grader import safetext

from grader.submission import SourceFile, SubmissionError, Unit, statement_units, syntax_message

def read_notebook(raw: bytes, relative: str) -> SourceFile:
    """A notebook's code cells as units. A file that is not a notebook at all (not UTF-8, not
    JSON, not nbformat) raises SubmissionError: it is unreadable, like a broken zip, and must
    not be graded as 47 missing functions. A cell that does not compile costs only itself."""
    source = SourceFile(relative, "ipynb", [])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionError(f"{relative} is not a notebook (it is not UTF-8 text); open and save it "
                              "in Jupyter, or hand in the .py file") from None
    cells = v4_cells(text)
    if cells is None:
        cells = nbformat_cells(text, relative)
    transform = None
    index = 0  # the code cell's number among code cells: what a student can count (Jupyter
    for cell_type, code in cells:  # numbers no cells, and In [n] changes with every run)
        if cell_type != "code":
            continue
        index += 1
        if not code.strip():
            continue
        label = f"{relative} [code cell {index}]"
        try:
            try:
                compile(code, label, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                # Not plain Python: %magics, !shell escapes, pasted prompts. Translate the cell
                # the way IPython does (importing IPython only for notebooks that need it).
                transform = transform or magic_transformer()
                try:
                    code = transform(code)
                except Exception as exc:  # noqa: BLE001
                    source.problems.append(f"{label}: could not translate IPython syntax ({exc})")
                    continue
                compile(code, label, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            source.problems.append(syntax_message(exc, code, label))
            continue
        except (RecursionError, MemoryError):
            source.problems.append(f"{label} is too deeply nested to parse")
            continue
        try:
            tree = ast.parse(code, label)
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # compiled above; never
            source.units.append(Unit(id=f"{relative}#{index}:1", filename=label, line=1, code=code,
                                     cell=f"{relative}#{index}"))
            continue
        source.units += statement_units(tree, code, relative, cell=(f"{relative}#{index}", label))
    return source


def nbformat_cells(text: str, relative: str) -> list[tuple[str, str]]:
    """(cell type, source) of each cell of an older or odd notebook, read by nbformat (which
    converts older formats), or SubmissionError when nbformat cannot read it either."""
    import nbformat

    try:
        notebook = nbformat.reads(text, as_version=4)
        return [(str(cell.get("cell_type")), str(cell.get("source", ""))) for cell in notebook.cells]
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for bad input
        detail = safetext.text(f"{type(exc).__name__}: {exc}", 200).splitlines()[0]
        raise SubmissionError(f"{relative} is not a valid notebook ({detail}); open and save it in "
                              "Jupyter, or hand in the .py file") from None


def v4_cells(text: str) -> list[tuple[str, str]] | None:
    """(cell type, source) of each cell of a well-formed nbformat 4 notebook (what Jupyter has
    written since 2015), read with json alone: importing nbformat and compiling its schema
    costs more than grading the notebook. None for anything else, which nbformat then reads
    (older formats are converted) or explains (a broken file)."""
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4:
        return None
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        return None
    found = []
    for cell in cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            return None
        code = cell.get("source", "")
        if isinstance(code, list) and all(isinstance(line, str) for line in code):
            code = "".join(code)
        elif not isinstance(code, str):
            return None
        found.append((cell["cell_type"], code))
    return found


def magic_transformer():
    """IPython's own translation of %magics and !shell escapes into Python calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell
