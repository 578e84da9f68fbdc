"""The authors' published run as they published it: where their templates and lint text are,
read into one table per template (`read_published`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.problems.dataset import Problem
from benchmark.problems.importers.output import DatasetImportError
from benchmark.replication.paper_repo import (
    QUERIES,
    TEMPLATES,
    PaperRepo,
    RecordedFinding,
    parse_cell,
    prompt_and_query,
    read_cells,
    read_template,
)


@dataclass(frozen=True)
class Published:
    """One template of one trial and iteration as published, and where it sits in a run."""

    trial: int
    iteration: int
    number: int  # JSONtemplate{number}.json, row {number} of errorsCSV{iteration}.csv
    problem: Problem
    sample: int
    recorded_from: str  # the template file's path in their repository (even when missing)
    template: str | None  # None: no such file
    lint_text: str | None  # their cfn-lint text; None: no such CSV row

    @property
    def recorded(self) -> list[RecordedFinding]:
        return parse_cell(self.lint_text) if self.lint_text is not None else []

    @property
    def clean_by_their_lint(self) -> bool:
        return self.lint_text is not None and not self.recorded


def _repository_base(repo: PaperRepo) -> Path:
    """The folder `recorded_from` paths start from: their repository root."""
    return {"repository": repo.root, "JSON_run_v2": repo.root.parent}.get(
        repo.layout, repo.root.parent.parent
    )


def read_published(repo: PaperRepo, paper33: list[Problem]) -> tuple[list[Published], list[str]]:
    """Every (trial, iteration, template) of the run, present or not, and notes on gaps."""
    if not repo.has_templates:
        raise DatasetImportError(
            f"{repo.root}: no template files (JSON_run_v2/JSONwork_batching*/json_set_*/): "
            "import-paper needs their repository (`make paper-figures RAW=...` reads the lint "
            "text alone)"
        )
    base = _repository_base(repo)
    last = max(max([*t.csvs, *t.template_dirs]) for t in repo.trials)
    notes: list[str] = []
    out: list[Published] = []
    for trial in repo.trials:
        for iteration in range(1, last + 1):
            cells: list[str] = []
            if iteration in trial.csvs:
                cells = read_cells(trial.csvs[iteration])
                if len(cells) != TEMPLATES:
                    notes.append(
                        f"{trial.csvs[iteration].relative_to(base)}: {len(cells)} rows, "
                        f"expected {TEMPLATES}"
                    )
            else:
                notes.append(f"trial {trial.trial}: no errorsCSV{iteration}.csv")
            for number in range(1, TEMPLATES + 1):
                prompt, query = prompt_and_query(number)
                expected = trial.folder / f"json_set_{iteration}" / f"JSONtemplate{number}.json"
                found = trial.template_file(iteration, number)
                out.append(
                    Published(
                        trial=trial.trial,
                        iteration=iteration,
                        number=number,
                        problem=paper33[prompt],
                        sample=(trial.trial - 1) * QUERIES + query,
                        recorded_from=expected.relative_to(base).as_posix(),
                        template=read_template(found) if found is not None else None,
                        lint_text=cells[number - 1] if number <= len(cells) else None,
                    )
                )
    return out, notes
