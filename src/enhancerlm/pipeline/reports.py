"""What the pipeline itself adds to the MultiQC report: the software versions of every step and the run's
parameters that differ from the defaults."""

from __future__ import annotations

import html
import platform
from pathlib import Path
from typing import Any

from enhancerlm.formats.files import write_text
from enhancerlm.pipeline.params import schema_defaults
from enhancerlm.pipeline.steps import STEPS
from enhancerlm.versions import software_versions


def write_versions_yaml(path: Path, ran: set[str], pipeline: str) -> Path:
    """MultiQC's software-versions file, as the Nextflow workflow writes it from the `versions` topic: a block per
    step that ran and reports tools, and the workflow's own block (`pipeline` is the manifest name; Nextflow also
    writes its own version there)."""
    found = {**software_versions(), "python": platform.python_version()}
    blocks = {
        step.process: [f"{tool}: {found[tool]}" for tool in step.tools]
        for step in STEPS
        if step.name in ran and step.tools
    }
    blocks["Workflow"] = [f"{pipeline}: v{found['enhancerlm']}"]
    text = "".join(
        f"{name}:\n" + "".join(f"    {line}\n" for line in sorted(lines)) for name, lines in sorted(blocks.items())
    )
    return write_text(path, text)


def workflow_summary_yaml(params: dict[str, Any], params_schema: dict) -> str:
    """The report's workflow summary: the parameters that differ from the schema's defaults, by group (the
    section the Nextflow workflow builds from nf-schema's paramsSummaryMap)."""
    defaults = schema_defaults(params_schema)
    groups = []
    for group in params_schema["$defs"].values():
        changed = {
            name: params[name]
            for name in group["properties"]
            if name in params and params[name] != defaults.get(name) and params[name] is not None
        }
        if changed:
            rows = "\n".join(
                f"        <dt>{name}</dt><dd><samp>{html.escape(str(value))}</samp></dd>"
                for name, value in sorted(changed.items())
            )
            groups.append(f'    <p><b>{group["title"]}</b></p>\n    <dl class="dl-horizontal">\n{rows}\n    </dl>')
    body = "\n".join(f"    {line}" for line in "\n".join(groups).splitlines())
    return (
        "id: 'enhancerlm-enhancerlm-summary'\n"
        "description: ' - the parameters of this run that differ from the defaults'\n"
        "section_name: 'enhancerlm/enhancerlm workflow summary'\n"
        "section_href: 'https://github.com/enhancerlm/enhancerlm'\n"
        "plot_type: 'html'\n"
        f"data: |\n{body}\n"
    )
