"""The Dagster UI in a real browser: headless Chromium, driven by Playwright, on a
`dagster-webserver` over a data home that the demo filled. The asset graph lists every
stage, asset pages show their metadata (charts as PNG images, the model card), and a run
launched through the webserver's GraphQL API shows up as the asset's latest materialization.

Full-page screenshots of every page go to $MEDICAL_ASSETS_TEST_ARTIFACTS (default:
test-artifacts/ui/ in the repository). MEDICAL_ASSETS_UI_TEST_HOME=<data home> runs the
test over that home instead of building the demo's (it needs materializations of
raw_traces, source_summary, leaderboard, the charted assets and model_card)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml
from dagster_graphql import DagsterGraphQLClient

from medical_assets.definitions import defs
from medical_assets.eval_sets import EVAL_SETS
from medical_assets.models import ModelSpec, evaluation_partitions, register_model
from medical_assets.sources import SOURCE_NAMES

pytestmark = [pytest.mark.browser, pytest.mark.demo]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'")
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
WEBSERVER = Path(sys.executable).parent / "dagster-webserver"
ARTIFACTS = Path(os.environ.get("MEDICAL_ASSETS_TEST_ARTIFACTS") or ROOT / "test-artifacts" / "ui")
SPECS = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
STAGES = sorted({spec.group_name for spec in SPECS.values()})
LOAD_TIMEOUT_S = 180  # the webserver up and the code location loaded
RUN_TIMEOUT_S = 300  # one source_summary run, from launch to success
UI_TIMEOUT_MS = 60_000  # one page element to appear (2 shared CPU cores are slow)
WORKSPACE_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


@dataclass(frozen=True)
class Webserver:
    url: str
    port: int
    location: str
    home: Path


@pytest.fixture(scope="module")
def ui_home(request, tmp_path_factory) -> Path:
    """A data home that reads the demo's tables through links and keeps its own copy of the
    demo's Dagster instance, so that runs launched from the UI leave the demo's home as it was."""
    given = os.environ.get("MEDICAL_ASSETS_UI_TEST_HOME")
    source = Path(given) if given else request.getfixturevalue("demo_home")[0]
    if not (source / "tables").is_dir() or not (source / "dagster").is_dir():
        pytest.fail(f"{source} is not a filled data home (no tables/ or dagster/ in it): run `make demo` into it")
    home = tmp_path_factory.mktemp("ui_home")
    (home / "tables").mkdir()
    for table in (source / "tables").iterdir():
        # A run here writes a new file and renames it over the link; the demo's file stays.
        (home / "tables" / table.name).symlink_to(table)
    shutil.copytree(source / "dagster", home / "dagster")
    instance_yaml = home / "dagster" / "dagster.yaml"
    config = yaml.safe_load((instance_yaml if instance_yaml.exists() else ROOT / "dagster.yaml").read_text()) or {}
    config |= {
        "telemetry": {"enabled": False},
        "nux": {"enabled": False},  # else a welcome dialog covers the pages
        # A bare webserver has no daemon to dequeue runs: launch them directly.
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"},
    }
    instance_yaml.write_text(yaml.safe_dump(config, sort_keys=False))
    return home


@pytest.fixture(scope="module")
def webserver(ui_home: Path):
    """`dagster-webserver` for workspace.yaml on a free port, its code location loaded; stopped
    with its whole process group (code server and run workers) afterwards."""
    port = _free_port()
    env = {**os.environ, "MEDICAL_ASSETS_HOME": str(ui_home), "DAGSTER_HOME": str(ui_home / "dagster"),
           "MEDICAL_ASSETS_SOURCES": "demo"}
    env.pop("MEDICAL_ASSETS_SOURCE_OVERRIDES", None)
    log_path = ui_home / "webserver.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(WEBSERVER), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            yield Webserver(url, port, _wait_until_loaded(url, process, log_path), ui_home)
        finally:
            _stop(process)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(log_path, ARTIFACTS / "webserver.log")


@pytest.fixture(scope="module")
def browser():
    sync_api.expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser page; when the test fails, a screenshot of where it stood."""
    failed_before = request.session.testsfailed
    context = browser.new_context(viewport={"width": 1600, "height": 1200})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield page
    if request.session.testsfailed > failed_before:
        _screenshot(page, f"FAILED-{request.node.name}")
    context.close()


def test_asset_graph_lists_every_stage(page, webserver):
    page.goto(f"{webserver.url}/asset-groups")
    graph = page.locator("svg foreignObject")
    for stage in STAGES:
        sync_api.expect(graph.get_by_text(stage, exact=True).first).to_be_visible()
    _screenshot(page, "asset-graph")


def test_ingest_group_shows_its_materialized_assets(page, webserver):
    page.goto(f"{webserver.url}/locations/{webserver.location}/asset-groups/{SPECS['raw_traces'].group_name}")
    for name in ("raw_traces", "raw_trace_rejects"):
        node = _graph_node(page, name)
        sync_api.expect(node).to_contain_text("100% filled")
        sync_api.expect(node).to_contain_text(f"{len(SOURCE_NAMES)} partitions")
    sync_api.expect(_graph_node(page, "source_summary")).to_contain_text("Materialized")
    _screenshot(page, "ingest-group")


def test_asset_page_shows_row_count_owner_and_source_code(page, webserver):
    spec = SPECS["source_summary"]
    rows = pl.read_parquet(webserver.home / "tables" / "source_summary.parquet").height
    (owner,) = spec.owners
    (code,) = spec.metadata["dagster/code_references"].code_references
    page.goto(f"{webserver.url}/assets/source_summary")
    sync_api.expect(_labelled(page, "Row count")).to_have_text(re.compile(rf"^Row count\s*{rows}$"))
    sync_api.expect(_labelled(page, "Owners")).to_have_text(re.compile(rf"^Owners\s*{owner.removeprefix('team:')}$"))
    sync_api.expect(page.get_by_text(spec.description.split(",")[0])).to_be_visible()
    source_link = page.get_by_role("link", name=re.compile(rf"^Open {re.escape(Path(code.file_path).name)}"))
    sync_api.expect(source_link).to_have_attribute(
        "href", re.compile(rf"{re.escape(code.file_path)}:{code.line_number}$"))
    _screenshot(page, "source_summary-overview")


def test_summary_markdown_has_a_row_per_source_as_in_the_table(page, webserver):
    summary = pl.read_parquet(webserver.home / "tables" / "source_summary.parquet")
    page.goto(f"{webserver.url}/assets/source_summary")
    page.get_by_role("row", name=re.compile(r"^summary")).get_by_text("[Show Markdown]").click()
    table = page.get_by_role("dialog").locator(".dagster-markdown table")
    sync_api.expect(table.locator("th")).to_have_text(summary.columns)
    sync_api.expect(table.locator("tbody tr")).to_have_count(summary.height)
    for record in summary.iter_rows():
        row = table.locator("tbody tr", has=page.get_by_role("cell", name=record[0], exact=True))
        sync_api.expect(row.locator("td")).to_have_text([str(value) for value in record])
    _screenshot(page, "source_summary-summary-markdown")


def test_leaderboard_events_show_its_markdown_table(page, webserver):
    models = pl.read_parquet(webserver.home / "tables" / "leaderboard.parquet")["model"].to_list()
    page.set_viewport_size({"width": 2400, "height": 1200})  # the table is wide: every column in the screenshot
    page.goto(f"{webserver.url}/assets/leaderboard?view=events")
    row = page.get_by_role("row", name=re.compile(r"^table"))
    sync_api.expect(row).to_be_visible()
    scope = page
    if row.get_by_text("[Show Markdown]").count():  # the UI folds long Markdown behind a link
        row.get_by_text("[Show Markdown]").click()
        scope = page.get_by_role("dialog")
    table = scope.locator(".dagster-markdown table")
    sync_api.expect(table.locator("th")).to_have_text(
        ["Model", *[spec.column for spec in EVAL_SETS], "Avg", "HealthBench", "Decoding"])
    sync_api.expect(table.locator("tbody tr")).to_have_count(len(models))
    for model in models:
        sync_api.expect(table.locator("tbody tr td:first-child", has_text=model)).to_have_count(1)
    _screenshot(page, "leaderboard-events")


@pytest.mark.parametrize("asset, key", [("quality_traces", "wait_chart"), ("contamination_report", "funnel_chart"),
                                        ("sft_checkpoint", "training_chart")])
def test_a_chart_renders_as_an_image_on_its_asset_page(page, webserver, asset, key):
    """The chart's Markdown (a PNG data URI) opens from its metadata row and the image decodes."""
    page.goto(f"{webserver.url}/assets/{asset}?view=events")
    row = page.get_by_role("row", name=re.compile(rf"^{key}\b"))
    row.get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog")
    image = dialog.locator(".dagster-markdown img")
    sync_api.expect(image).to_have_count(1)
    sync_api.expect(image).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    page.wait_for_function("img => img.complete", arg=image.element_handle())
    assert image.evaluate("img => img.naturalWidth") > 0 and image.evaluate("img => img.naturalHeight") > 0
    dialog.screenshot(path=_artifact(f"chart-{asset}-{key}"))
    page.keyboard.press("Escape")
    data = page.get_by_role("row", name=re.compile(rf"^{key}_data\b"))
    sync_api.expect(data.locator("table").first).to_be_visible()  # its numbers beside it, as a Dagster table
    _screenshot(page, f"{asset}-events")


def test_the_model_card_markdown_shows_on_its_asset_page(page, webserver):
    with dg.DagsterInstance.from_config(str(webserver.home / "dagster")) as instance:
        card = instance.get_latest_materialization_event(dg.AssetKey("model_card")).asset_materialization.metadata[
            "card"].value
    sections = re.findall(r"^## (.+)$", card, flags=re.M)
    benchmarks = len(EVAL_SETS) + 1  # and Avg
    page.goto(f"{webserver.url}/assets/model_card?view=events")
    page.get_by_role("row", name=re.compile(r"^card\b")).get_by_text("[Show Markdown]").click()
    markdown = page.get_by_role("dialog").locator(".dagster-markdown")
    sync_api.expect(markdown.locator("h1")).to_have_text(card.splitlines()[0].removeprefix("# "))
    sync_api.expect(markdown.locator("h2")).to_have_text(sections)
    evaluation = markdown.locator("table", has=page.get_by_role("columnheader", name="strict", exact=True))
    sync_api.expect(evaluation.locator("tbody tr")).to_have_count(benchmarks)
    sync_api.expect(evaluation.locator("tbody tr td:first-child")).to_have_text(
        [spec.column for spec in EVAL_SETS] + ["Avg"])
    page.get_by_role("dialog").screenshot(path=_artifact("model_card"))


def test_run_launched_through_the_webserver_is_the_latest_materialization(page, webserver):
    client = DagsterGraphQLClient("127.0.0.1", port_number=webserver.port, timeout=60)
    run_id = client.submit_job_execution(
        "__ASSET_JOB", repository_location_name=webserver.location, repository_name="__repository__",
        asset_selection=[dg.AssetKey("source_summary")],
    )
    status = _wait_for_run(client, run_id)
    assert status == dg.DagsterRunStatus.SUCCESS, (
        f"run {run_id} ended {status.value}; its event log is at {webserver.url}/runs/{run_id}")

    page.goto(f"{webserver.url}/runs/{run_id}")
    sync_api.expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    _screenshot(page, "source_summary-run")
    page.goto(f"{webserver.url}/assets/source_summary?view=events")
    sync_api.expect(page.get_by_text(f"Materialized in run {run_id[:8]}").first).to_be_visible()
    _screenshot(page, "source_summary-new-materialization")


BACKFILL_MUTATION = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message } } }"""
BACKFILL_QUERY = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
    ... on PartitionBackfill { status numPartitions partitionNames assetSelection { path } } } }"""


def test_backfill_of_a_new_model_launched_through_the_webserver_covers_every_benchmark(page, webserver):
    """What the UI's Materialize > backfill dialog sends for `eval_responses` + `benchmark_scores`
    of one new model over the ten benchmarks; the daemon of `make ui` then launches its runs."""
    probe = webserver.home / "checkpoints" / "probe"
    probe.mkdir(parents=True, exist_ok=True)
    (probe / "config.json").write_text("{}")  # registration checks the directory; the backfill loads nothing here
    with dg.DagsterInstance.from_config(str(webserver.home / "dagster")) as instance:
        register_model(ModelSpec("ui-probe", model=str(probe)), instance, webserver.home)
    partitions = [str(key) for key in evaluation_partitions("ui-probe")]
    launched = _graphql(webserver.url, BACKFILL_MUTATION, {"params": {
        "partitionNames": partitions, "assetSelection": [{"path": ["eval_responses"]}, {"path": ["benchmark_scores"]}]}})
    result = launched["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    backfill = _graphql(webserver.url, BACKFILL_QUERY, {"id": result["backfillId"]})["partitionBackfillOrError"]
    assert backfill["numPartitions"] == len(EVAL_SETS) == 10
    assert sorted(backfill["partitionNames"]) == sorted(partitions)
    assert {tuple(key["path"]) for key in backfill["assetSelection"]} == {("eval_responses",), ("benchmark_scores",)}

    page.goto(f"{webserver.url}/runs/b/{result['backfillId']}")
    sync_api.expect(page.get_by_text(result["backfillId"]).first).to_be_visible()
    sync_api.expect(page.get_by_text(f"{len(partitions)} partitions", exact=True)).to_be_visible()
    for asset in ("eval_responses", "benchmark_scores"):
        sync_api.expect(page.get_by_text(asset, exact=True).first).to_be_visible()
    _screenshot(page, "evaluate-backfill")


def _labelled(page, label: str):
    """The box holding a label of the asset overview and its value."""
    return page.get_by_text(label, exact=True).locator("..")


def _graph_node(page, asset: str):
    return page.locator("svg foreignObject", has=page.get_by_text(asset, exact=True)).first


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def _screenshot(page, name: str) -> None:
    page.screenshot(path=_artifact(name), full_page=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_loaded(url: str, process: subprocess.Popen, log_path: Path) -> str:
    """The name of the workspace's code location, once the webserver reports it LOADED."""
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    state = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {process.returncode} before loading; "
                        f"its log ({log_path}) ends:\n{_tail(log_path)}")
        try:
            entries = _graphql(url, WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
        except (OSError, KeyError, TypeError) as error:
            state = f"no answer ({error})"
        else:
            state = json.dumps(entries)
            if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
                (entry,) = entries
                if entry["locationOrLoadError"]["__typename"] == "PythonError":
                    pytest.fail(f"code location {entry['name']} failed to load: "
                                f"{entry['locationOrLoadError']['message']}")
                return entry["name"]
        time.sleep(0.5)
    pytest.fail(f"the code location was not loaded {LOAD_TIMEOUT_S}s after starting dagster-webserver "
                f"(last state: {state}); its log ({log_path}) ends:\n{_tail(log_path)}")


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    body = {"query": query, "variables": variables or {}}
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


def _wait_for_run(client, run_id: str) -> dg.DagsterRunStatus:
    finished = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
    deadline = time.monotonic() + RUN_TIMEOUT_S
    status = None
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id)
        if status in finished:
            return status
        time.sleep(1)
    pytest.fail(f"run {run_id} still {status.value if status else 'unknown'} after {RUN_TIMEOUT_S}s")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the webserver's process group, then SIGKILL to whatever is left of it."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:]
