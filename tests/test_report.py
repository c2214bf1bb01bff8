"""The MultiQC report: the custom content each step writes, the report of a whole run (the test profile), and
the report as a browser shows it (headless Chromium from Debian's `chromium` and `chromium-driver`)."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import platform
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from enhancerlm.formats.files import resource
from enhancerlm.formats.multiqc import Markup, confusion_mqc, html_table, multiqc_prepare, variants_top_mqc
from enhancerlm.pipeline.steps import PIPELINE_STEPS

# The report's modules in the order the reader meets them (General Statistics leads, outside this list).
SECTIONS = [
    "enhancerlm_prepare",
    "enhancerlm_roc",
    "enhancerlm_pr",
    "enhancerlm_confusion",
    "enhancerlm_benchmark",
    "enhancerlm_predict",
    "enhancerlm_predict_scores",
    "enhancerlm_predict_chunks",
    "enhancerlm_motifs",
    "enhancerlm_variants",
    "enhancerlm_variant_deltas",
    "enhancerlm_variant_top",
    "multiqc_software_versions",
    "enhancerlm-enhancerlm-summary",
]
LINE_PLOTS = [
    "enhancerlm_roc_plot",
    "enhancerlm_pr_plot",
    "enhancerlm_predict_scores_plot",
    "enhancerlm_variant_deltas_plot",
]
GENERAL_STATS = {
    "Acc": "accuracy",
    "Sn": "sensitivity",
    "Sp": "specificity",
    "MCC": "mcc",
    "AUC": "auc",
    "AUPRC": "auprc",
}
SCREENSHOT = os.environ.get("ENHANCERLM_REPORT_SCREENSHOT")  # also save the browser's screenshot here


def mqc_header(text: str) -> dict:
    """The YAML configuration of a custom-content file: `#` lines of a TSV, or the comment of an HTML file."""
    if text.startswith("<!--"):
        return yaml.safe_load(text[4 : text.index("-->")])
    return yaml.safe_load("\n".join(line[2:] for line in text.splitlines() if line.startswith("# ")))


def html_tables(text: str) -> list[list[list[str]]]:
    """The body rows of every table in an HTML text, as cell texts."""
    from html.parser import HTMLParser

    class Tables(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.in_body, self.cell = [], False, None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.tables.append([])
            elif tag == "tbody":
                self.in_body = True
            elif tag == "tr" and self.in_body:
                self.tables[-1].append([])
            elif tag == "td" and self.in_body:
                self.cell = ""

        def handle_endtag(self, tag):
            if tag == "tbody":
                self.in_body = False
            elif tag == "td" and self.cell is not None:
                self.tables[-1][-1].append(self.cell)
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    parser = Tables()
    parser.feed(text)
    return parser.tables


def mqc_rows(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), sep="\t", comment="#", dtype=str, keep_default_na=False)


# ---------------------------------------------------------------------------- custom content, unit by unit


def test_html_table_escapes_cells_but_not_markup():
    table = html_table("x", ["a<b", "c"], [["<script>", Markup("<img src='y'/>")]], empty="none")
    assert "<th>a&lt;b</th>" in table and "<td>&lt;script&gt;</td>" in table and "<td><img src='y'/></td>" in table
    assert '<td colspan="2">none</td>' in html_table("x", ["a", "b"], [], empty="none")


def test_confusion_matrix_rows_come_from_the_metrics():
    counts = {
        "all": {"confusion_matrix": {"tp": 16, "fn": 4, "fp": 10, "tn": 10}, "threshold": 0.48509},
        "leak_free": {"confusion_matrix": {"tp": 7, "fn": 3, "fp": 10, "tn": 10}},
    }
    text = confusion_mqc("m_k3", counts)
    assert mqc_header(text)["id"] == "enhancerlm_confusion"
    (row,) = mqc_rows(text).to_dict("records")
    assert row == {
        "Sample": "m_k3",
        "TP": "16",
        "FN": "4",
        "FP": "10",
        "TN": "10",
        "Leak-free TP": "7",
        "Leak-free FN": "3",
        "Leak-free FP": "10",
        "Leak-free TN": "10",
        "Threshold": "0.4851",
    }


def prepare_report(leaked: int, warnings: list[str]) -> dict:
    split = {"groups": 0, "records": 2, "identical_pairs": 1, "reverse_complement_pairs": 0, "label_conflicts": 0}
    return {
        "dataset": "d'1",
        "counts": {"train": {"enhancer": 8, "non-enhancer": 9}, "test": {"enhancer": 3}},
        "gc": {
            "train": {"enhancer": {"median": 0.5}, "non-enhancer": {"median": 0.4}},
            "test": {"enhancer": {"median": 0.45}},
        },
        "rejected": [{"id": "r1"}],
        "n_rich": [],
        "renamed_ids": ["a", "b"],
        "duplicates": {
            "within_split": {"train": split},
            "train_test": {
                "total": leaked + 1,
                "per_class": {"enhancer": {"identical": leaked, "reverse_complement": 0, "near_duplicate": 1}},
            },
            "near_duplicates": {"rule": {"identity": 0.9, "coverage": 0.5}, "train_pairs": 4},
        },
        "warnings": warnings,
    }


def test_prepare_section_counts_and_warns_of_leakage():
    text = multiqc_prepare(prepare_report(3, ["LEAK: 3 of 3 test enhancer records duplicate <training>"]))
    header = mqc_header(text)
    assert (header["parent_id"], header["id"]) == ("enhancerlm_prepare", "enhancerlm_prepare_d'1")
    counts, checks = html_tables(text)
    assert counts == [
        ["train", "enhancer", "8", "0.5"],
        ["train", "non-enhancer", "9", "0.4"],
        ["test", "enhancer", "3", "0.45"],
    ]
    assert dict(checks) == {
        "rejected (left out)": "1",
        "over the N limit (kept)": "0",
        "repeated ids renamed": "2",
        "duplicates within train": "2",
        "test enhancer records copying a training record": "3",
        "test enhancer records nearly copying one": "1",
        "near-copy pairs within train (kept in one fold)": "4",
    }
    assert (
        '<div class="alert alert-warning"><ul><li>LEAK: 3 of 3 test enhancer records duplicate &lt;training&gt;' in text
    )
    assert "alert" not in multiqc_prepare(prepare_report(0, []))


def test_top_variants_name_the_tf_sites():
    row = {
        "chrom": "22",
        "pos": 100,
        "id": "rs1",
        "ref": "C",
        "alt": "T",
        "p_ref": 0.9,
        "p_alt": 0.2,
        "delta": -0.7,
        "tfbs_gain": None,
        "tfbs_loss": "MA0139.2:CTCF:+:1e-06|MA1938.2:ERF::NHLH1:-:4.97e-05" + "|MA0001.1:X:+:1e-4" * 5,
    }
    text = variants_top_mqc("m", {"top_gains": [], "top_losses": [row]})
    assert mqc_header(text)["parent_id"] == "enhancerlm_variant_top"
    gains, losses = html_tables(text)
    assert gains == [["No allele raises the probability."]]
    assert losses == [
        [
            "22:100 C>T",
            "rs1",
            "0.9000",
            "0.2000",
            "-0.7000",
            "CTCF (+), ERF::NHLH1 (-), X (+), X (+), X (+), +2 more",
            "",
        ]
    ]


def test_config_orders_every_section_and_names_the_report():
    config = yaml.safe_load(resource("assets/multiqc_config.yml").read_text())
    assert config["output_fn_name"] == "multiqc_report.html" and config["export_plots"] is True
    assert config["no_version_check"] is True
    order = config["report_section_order"]
    # software_versions: the id nf-core's lint asks for, beside MultiQC's own anchor
    assert [
        s for s in sorted(order, key=lambda section: -order[section]["order"]) if s != "software_versions"
    ] == SECTIONS


# ---------------------------------------------------------------------------- the report of a whole run


def report_modules(html: str) -> list[str]:
    return re.findall(r'id="mqc-module-section-([^"]+)"', html)


def test_run_report_has_every_section_in_order(test_profile_results):
    html = (test_profile_results / "multiqc" / "multiqc_report.html").read_text()
    assert report_modules(html) == SECTIONS
    for section in (
        "enhancerlm_prepare_mini_layer1",
        "enhancerlm_benchmark_mini_layer1",
        "enhancerlm_motifs_mini_layer1_ensemble",
        "enhancerlm_variant_top_mini_layer1_ensemble",
    ):
        assert f'id="{section}"' in html, section
    assert "LEAK: 10 of 20 test enhancer records" in html  # the prepare warning box
    versions = pd.read_csv(
        test_profile_results / "multiqc" / "multiqc_data" / "multiqc_software_versions.txt",
        sep="\t",
        dtype=str,
        keep_default_na=False,
    ).set_index("Sample")
    import torch

    train = versions.loc["ENHANCERLM_TRAIN"]
    # the installed distributions' versions (a CUDA wheel's torch.__version__ adds +cu130, its metadata does not)
    assert (train["torch"], train["transformers"]) == (
        importlib.metadata.version("torch"),
        importlib.metadata.version("transformers"),
    )
    assert train["cuda"] == (torch.version.cuda or "none")
    assert versions.loc["CHUNK_SUMMARY", "python"] == platform.python_version()
    # every step that ran but MultiQC, which reads the versions and reports none (its own is in the report's
    # footer), and the workflow's block; the test profile has no regions samplesheet, so no PREPAREREGIONS
    ran = [step for step in PIPELINE_STEPS if step not in ("MULTIQC", "PREPAREREGIONS")]
    assert set(versions.index) == {("" if step == "CHUNK_SUMMARY" else "ENHANCERLM_") + step for step in ran} | {
        "Workflow"
    }


def test_general_statistics_equal_the_metrics_and_motif_files(test_profile_results):
    table = pd.read_csv(
        test_profile_results / "multiqc" / "multiqc_data" / "multiqc_general_stats.txt",
        sep="\t",
        dtype=str,
        keep_default_na=False,
    ).set_index("Sample")
    metrics = {
        path.name.removesuffix(".metrics.json"): json.loads(path.read_text())
        for path in (test_profile_results / "evaluate").rglob("*.metrics.json")  # and external/
    }
    assert (
        sorted(table.index)
        == sorted(metrics)
        == [
            "mini_layer1_ensemble",
            "mini_layer1_ensemble_on_ienhancer2l_independent",
            "mini_layer1_k3",
            "mini_layer1_k4",
            "mini_layer1_kmer-baseline",
        ]
    )
    for model, report in metrics.items():
        for column, key in GENERAL_STATS.items():
            value = report["subsets"]["all"][key]
            assert float(table.loc[model, f"custom_content_enhancerlm_metrics-{column}"]) == pytest.approx(
                value, abs=5e-5
            ), (model, column)
    motifs = json.loads((test_profile_results / "motifs" / "mini_layer1_ensemble.motifs.json").read_text())
    row = table.loc["mini_layer1_ensemble"]
    assert int(row["custom_content_enhancerlm_motif_hits-Motifs"]) == motifs["counts"]["motifs"]
    assert int(row["custom_content_enhancerlm_motif_hits-Known_motifs"]) == motifs["counts"]["known"]
    assert table.loc["mini_layer1_k3", "custom_content_enhancerlm_motif_hits-Motifs"] == ""


def test_variant_and_scan_tables_equal_their_reports(test_profile_results):
    data = test_profile_results / "multiqc" / "multiqc_data"
    variants = pd.read_csv(data / "multiqc_enhancerlm_variants_table.txt", sep="\t").set_index("Sample")
    report = json.loads((test_profile_results / "variants" / "mini_layer1_ensemble.variants.json").read_text())
    assert variants.loc["mini_layer1_ensemble", "Records"] == report["records"]["reported"] == 234
    assert variants.loc["mini_layer1_ensemble", "Scored"] == report["alleles"]["scored"]
    confusion = pd.read_csv(data / "multiqc_enhancerlm_confusion_table.txt", sep="\t").set_index("Sample")
    k3 = json.loads((test_profile_results / "evaluate" / "mini_layer1_k3.metrics.json").read_text())
    assert confusion.loc["mini_layer1_k3", ["TP", "FN", "FP", "TN"]].tolist() == [
        k3["subsets"]["all"]["confusion_matrix"][key] for key in ("tp", "fn", "fp", "tn")
    ]


# ---------------------------------------------------------------------------- the report in a browser


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Debian's chromedriver (installed by `make test`; nothing is downloaded)."""
    driver_path, chromium = shutil.which("chromedriver"), shutil.which("chromium")
    if not (driver_path and chromium):
        pytest.fail("headless Chromium is missing: `make browser` installs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,2000",
        "--allow-file-access-from-files",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def test_report_renders_in_chromium(browser, test_profile_results, tmp_path):
    from PIL import Image, ImageStat
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    report = test_profile_results / "multiqc" / "multiqc_report.html"
    browser.get(report.as_uri())
    WebDriverWait(browser, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")
    for section in SECTIONS:
        assert browser.find_elements(By.ID, f"mqc-module-section-{section}"), section
    for plot in LINE_PLOTS:  # Plotly draws each plot when it scrolls into view
        element = browser.find_element(By.ID, plot)
        browser.execute_script("arguments[0].scrollIntoView();", element)
        WebDriverWait(browser, 30).until(
            lambda d, e=element: (
                "not_rendered" not in e.get_attribute("class")
                and e.find_elements(By.CSS_SELECTOR, "svg.main-svg .scatterlayer .trace path")
            )
        )
        assert element.size["width"] > 100 and element.size["height"] > 100, plot
        paths = element.find_elements(By.CSS_SELECTOR, "svg.main-svg .scatterlayer .trace path.js-line")
        assert any(len(path.get_attribute("d") or "") > 20 for path in paths), f"{plot}: no line drawn"
    rows = browser.find_elements(By.CSS_SELECTOR, "#general_stats_table_table tbody tr")
    assert sorted(row.get_attribute("data-sample-group") for row in rows) == [
        "mini_layer1_ensemble",
        "mini_layer1_ensemble_on_ienhancer2l_independent",
        "mini_layer1_k3",
        "mini_layer1_k4",
        "mini_layer1_kmer-baseline",
    ]
    assert all(row.is_displayed() for row in rows)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
    browser.get(report.as_uri())  # the top of a freshly loaded page for the screenshot, once its first plot is drawn
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "general_stats_table_table").is_displayed())
    WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f"#{LINE_PLOTS[0]} svg.main-svg .scatterlayer .trace path.js-line")
    )
    WebDriverWait(browser, 30).until(
        lambda d: (
            not any(e.is_displayed() for e in d.find_elements(By.XPATH, "//*[contains(text(), 'Loading report')]"))
        )
    )
    screenshot = tmp_path / "multiqc_report.png"
    assert browser.save_screenshot(str(screenshot))
    image = Image.open(screenshot).convert("L")
    assert image.size[0] >= 1000 and ImageStat.Stat(image).stddev[0] > 20, "the screenshot is blank"
    assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50
    if SCREENSHOT:
        shutil.copy(screenshot, Path(SCREENSHOT))
