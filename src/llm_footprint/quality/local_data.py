"""Local task data in the built-in tasks' own record schemas, so lm-eval's scoring applies as is.

Readers check every record and name the file, line and field of the first problem.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

# Fields the built-in tasks' prompt and scoring code reads, per task.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "wikitext": ("page",),
    "mmlu": ("question", "choices", "answer"),
    "ifeval": ("key", "prompt", "instruction_id_list", "kwargs"),
    "arc_challenge": ("question", "choices", "answerKey"),
    "arc_easy": ("question", "choices", "answerKey"),
    "hellaswag": ("ctx_a", "ctx_b", "activity_label", "endings", "label"),
    "truthfulqa_mc2": ("question", "mc2_targets"),
    "winogrande": ("sentence", "option1", "option2", "answer"),
}

# A WikiText article starts at a top-level heading line such as " = Robert Boulter = ".
_WIKITEXT_ARTICLE_HEADING = re.compile(r"^ = [^=].* = $")
MMLU_LETTERS = "ABCD"


class DataError(ValueError):
    """A local data file that cannot be used; names the file, line and field."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None,
                 field: str | None = None):
        self.path, self.line, self.field = str(path), line, field
        where = f"{path}:{line}" if line is not None else str(path)
        what = f" field {field!r}" if field else ""
        super().__init__(f"{where}:{what} {problem}")


def wikitext_pages(text: str) -> list[dict[str, str]]:
    """Split WikiText raw text into articles, the documents of lm-eval's wikitext task."""
    pages: list[list[str]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _WIKITEXT_ARTICLE_HEADING.match(line) or not pages:
            pages.append([])
        pages[-1].append(line)
    return [{"page": "\n".join(lines)} for lines in pages if "".join(lines).strip()]


def _mmlu_csv_rows(path: Path, subject: str) -> list[dict[str, Any]]:
    records = []
    with open(path, encoding="utf-8", newline="") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            if len(row) != 6:
                raise DataError(path, f"expected 6 columns (question, A, B, C, D, answer), got "
                                      f"{len(row)}", line_number)
            answer = row[5].strip()
            if answer not in MMLU_LETTERS:
                raise DataError(path, f"answer must be one of A, B, C, D, got {answer!r}",
                                line_number, "answer")
            records.append({"question": row[0], "subject": subject, "choices": row[1:5],
                            "answer": MMLU_LETTERS.index(answer)})
    return records


def mmlu_csv_records(path: Path, split: str = "test") -> list[dict[str, Any]]:
    """The original headerless MMLU CSVs (a file, or a folder of *_{split}.csv files)."""
    files = sorted(path.glob(f"*_{split}.csv")) if path.is_dir() else [path]
    if not files:
        raise DataError(path, f"no *_{split}.csv files in this folder")
    records = []
    for file in files:
        subject = re.sub(r"_(test|dev|val)$", "", file.stem)
        records.extend(_mmlu_csv_rows(file, subject))
    return records


def _jsonl_records(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    records = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(path, f"not valid JSON ({error.msg})", line_number) from None
            if not isinstance(record, dict):
                raise DataError(path, "expected a JSON object per line", line_number)
            for name in required:
                if name not in record:
                    raise DataError(path, "is missing (required by this task's scoring code)",
                                    line_number, name)
            records.append(record)
    if not records:
        raise DataError(path, "contains no records")
    return records


def read_records(task: str, path: str | Path, split: str = "test") -> list[dict[str, Any]]:
    """Records of a local data file for ``task``, checked against the task's schema."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "does not exist")
    if task == "wikitext" and path.suffix in (".txt", ".raw"):
        pages = wikitext_pages(path.read_text(encoding="utf-8"))
        if not pages:
            raise DataError(path, "contains no text")
        return pages
    if task == "mmlu" and (path.is_dir() or path.suffix == ".csv"):
        return mmlu_csv_records(path, split)
    return _jsonl_records(path, REQUIRED_FIELDS.get(task, ()))
