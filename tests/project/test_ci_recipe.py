"""The CI recipe in ``examples/ci/github-actions.yml`` works as written.

Each job's shell steps run in order, in a fresh folder, with the workflow's ``${{ … }}``
expressions filled in as GitHub would (the staging URL is a reference gateway on loopback);
``uses:`` steps are checked for the files they upload instead of being run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateways import serve

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "ci" / "github-actions.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(vars|secrets)\.([A-Z_]+)\s*\}\}")
KEY = "ci-recipe-test-key"


def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def run_job(job: str, workdir: Path, values: dict[str, str]) -> list[tuple[str, int, str]]:
    """Run the job's ``run:`` steps; returns (step name, exit code, output) for each."""
    summary = workdir / "step-summary.md"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_STEP_SUMMARY": str(summary), "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}

    def fill(text: str) -> str:
        return EXPRESSION.sub(lambda m: values.get(m.group(2), ""), text)

    results = []
    for step in workflow()["jobs"][job]["steps"]:
        if "run" not in step:
            continue
        step_env = {name: fill(str(value)) for name, value in (step.get("env") or {}).items()}
        done = subprocess.run(["bash", "-e", "-c", fill(step["run"])], cwd=workdir, env={**env, **step_env},
                              capture_output=True, text=True, timeout=300)
        results.append((step["name"], done.returncode, done.stdout + done.stderr))
    return results


def test_the_workflow_declares_least_privilege_permissions() -> None:
    flow = workflow()
    assert flow["permissions"] == {"contents": "read"}
    assert flow["jobs"]["conformance"]["permissions"]["checks"] == "write"
    assert flow["jobs"]["lint"]["permissions"]["security-events"] == "write"
    uploads = [s for job in flow["jobs"].values() for s in job["steps"] if "upload" in s.get("uses", "")]
    assert uploads and all("always()" in s["if"] for s in uploads)


def test_conformance_job_runs_as_written_against_a_conforming_gateway(tmp_path: Path) -> None:
    with serve() as gateway:
        results = run_job("conformance", tmp_path, {"GONKA_STAGING_URL": gateway.base_url, "GONKA_STAGING_KEY": KEY,
                                                    "GONKA_CONFORMANCE_SOURCE": "gonka-conformance"})
    assert [code for _, code, _ in results] == [0] * len(results), results[1][2][-6000:]
    assert (tmp_path / "gonka-report" / "junit.xml").is_file()  # what the annotation and upload steps read
    assert "Gonka gateway conformance" in (tmp_path / "step-summary.md").read_text()
    assert KEY not in "".join(out for _, _, out in results)


def test_later_steps_survive_a_suite_that_wrote_nothing(tmp_path: Path) -> None:
    # No key (a fork's pull request): the suite fails, the summary and diff steps still succeed.
    results = dict((name, code) for name, code, _ in run_job("conformance", tmp_path, {
        "GONKA_STAGING_URL": "http://127.0.0.1:9/v1", "GONKA_CONFORMANCE_SOURCE": "gonka-conformance"}))
    assert results.pop("Run the suite against staging") != 0
    assert set(results.values()) == {0}, results
    assert (tmp_path / "step-summary.md").is_file()


@pytest.mark.parametrize("payload, fails", [
    ({"model": "moonshotai/Kimi-K2.6", "messages": [{"role": "user", "content": "hi"}]}, False),
    ({"model": "moonshotai/Kimi-K2.6", "messages": [{"role": "user", "content": "hi"}], "tags": ["x"]}, True),
])
def test_lint_job_writes_sarif_and_fails_only_on_error_findings(tmp_path: Path, payload: dict, fails: bool) -> None:
    (tmp_path / "payloads").mkdir()
    (tmp_path / "payloads" / "request.json").write_text(json.dumps(payload))
    results = run_job("lint", tmp_path, {"GONKA_CONFORMANCE_SOURCE": "gonka-conformance"})
    codes = {name: code for name, code, _ in results}
    assert codes["Install gonka-conformance"] == 0 and codes["Lint payloads and captures"] == 0
    assert codes["Fail on error findings"] == (1 if fails else 0)
    sarif = json.loads((tmp_path / "gonka-lint.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == (["reject-tags"] if fails else [])
