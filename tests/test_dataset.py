"""formats.fasta, analysis.dataset and commands.prepare: FASTA parsing, samplesheet validation, record QC,
duplicates, leaks and folds."""

from __future__ import annotations

import gzip
import json
import logging
import random
from pathlib import Path

import pandas as pd
import pytest

from enhancerlm.analysis.dataset import prepare_dataset
from enhancerlm.commands.prepare import load_samplesheet, prepare_samplesheet
from enhancerlm.core.dna import canonical_sequence, gc_fraction, invalid_characters, reverse_complement
from enhancerlm.errors import InputError
from enhancerlm.formats.dataset_table import COLUMNS, read_dataset
from enhancerlm.formats.fasta import FastaRecord, read_fasta
from enhancerlm.formats.files import resource

SHEETS = resource("assets/samplesheets")


def random_dna(rng: random.Random, length: int = 60) -> str:
    return "".join(rng.choice("ACGT") for _ in range(length))


def write_fasta(path: Path, records: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in records))
    return path


def write_sheet(path: Path, rows: list[tuple[str, str, str, str]], header: str = "dataset,fasta,label,split") -> Path:
    path.write_text(header + "\n" + "".join(",".join(row) + "\n" for row in rows))
    return path


def make_dataset(tmp_path: Path, files: dict[str, tuple[str, str, list[tuple[str, str]]]]) -> pd.DataFrame:
    """Write FASTAs {name: (label, split, records)} and a sheet for dataset 'toy'; load the sheet."""
    rows = []
    for name, (label, split, records) in files.items():
        write_fasta(tmp_path / f"{name}.fa", records)
        rows.append(("toy", f"{name}.fa", label, split))
    return load_samplesheet(write_sheet(tmp_path / "sheet.csv", rows))


def balanced_files(rng: random.Random, n: int = 20) -> dict[str, tuple[str, str, list[tuple[str, str]]]]:
    return {
        "pos": ("enhancer", "train", [(f"p{i}", random_dna(rng)) for i in range(n)]),
        "neg": ("non-enhancer", "train", [(f"n{i}", random_dna(rng)) for i in range(n)]),
    }


# ---------------------------------------------------------------------------- FASTA


def test_read_fasta_handles_gzip_crlf_multiline_blank_lines_and_case(tmp_path):
    text = ">r1 first record\r\nACGTacgt\r\nnnAC\r\n\r\n>r2\r\nGGGG\r\n\r\n"
    plain = tmp_path / "plain.fa"
    plain.write_bytes(text.encode())
    zipped = tmp_path / "zipped.txt"  # gzip detected by magic bytes, not by extension
    zipped.write_bytes(gzip.compress(text.encode()))
    for path in (plain, zipped):
        records = list(read_fasta(path))
        assert records == [FastaRecord("r1", "r1 first record", "ACGTACGTNNAC"), FastaRecord("r2", "r2", "GGGG")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ACGT\n>r1\nACGT\n", "line 1: sequence text before the first '>' header"),
        (">r1\nACGT\n>  \nACGT\n", "line 3: header has no record id"),
        ("", "no FASTA records (empty file)"),
        ("\n\n", "no FASTA records (empty file)"),
    ],
)
def test_read_fasta_structural_errors_name_file_line_and_reason(tmp_path, text, expected):
    path = tmp_path / "bad.fa"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        list(read_fasta(path))
    assert str(error.value) == f"{path}: {expected}"


def test_sequence_helpers():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("aacg") == "CGTT"
    assert canonical_sequence("TTTT") == "AAAA"
    assert canonical_sequence("aaaa") == "AAAA"
    assert gc_fraction("GCAT") == 0.5
    assert gc_fraction("GCNNNN") == 1.0
    assert gc_fraction("NNNN") == 0.0
    assert invalid_characters("ACGTNacgtn") == ""
    assert invalid_characters("ACGTACGTACGTACGTRAY") == "invalid characters 'R', 'Y' (first at position 17)"
    assert invalid_characters("AC GT") == "invalid character ' ' (first at position 3)"
    with pytest.raises(ValueError):
        reverse_complement("ACR")


# ---------------------------------------------------------------------------- samplesheet


@pytest.fixture
def fasta(tmp_path: Path) -> Path:
    return write_fasta(tmp_path / "a.fa", [("r1", "ACGT")])


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [("toy", "a.fa", "x", "train"), ("toy", "a.fa", "y", "tst")],
            "row 2 (dataset toy), column split: split must be",
        ),
        ([("toy", "missing.fa", "x", "train")], "row 1 (dataset toy), column fasta: file not found"),
        ([("bad name!", "a.fa", "x", "train")], "row 1 (dataset bad name!), column dataset: dataset name must"),
        ([("toy", "a.txt", "x", "train")], "row 1 (dataset toy), column fasta: FASTA path must"),
        ([("toy", "a.fa", "has space", "train")], "row 1 (dataset toy), column label: label must"),
        ([("toy", "a.fa", "", "train")], "row 1 (dataset toy), column label: missing value"),
        ([("toy", "a.fa", "x", "train")], "dataset toy: needs exactly two label values, found 1 (x)"),
    ],
)
def test_samplesheet_errors_name_row_and_column(tmp_path, fasta, rows, expected):
    write_fasta(tmp_path / "b.fa", [("r2", "ACGT")])
    sheet = write_sheet(tmp_path / "sheet.csv", rows)
    with pytest.raises(InputError) as error:
        load_samplesheet(sheet)
    message = str(error.value)
    assert message.startswith(f"{sheet}: ")
    assert expected in message
    assert "\n" not in message


def test_a_dataset_of_test_rows_only_is_an_external_test_set(tmp_path, fasta):
    write_fasta(tmp_path / "b.fa", [("r2", "ACGT")])
    sheet = load_samplesheet(
        write_sheet(tmp_path / "sheet.csv", [("toy", "a.fa", "x", "test"), ("toy", "b.fa", "y", "test")])
    )
    assert list(sheet["split"]) == ["test", "test"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("dataset,fasta,label", "missing column(s) split"),
        ("dataset,fasta,label,split,extra", "unexpected column(s) extra"),
    ],
)
def test_samplesheet_column_errors(tmp_path, fasta, header, expected):
    rows = [("toy", "a.fa", "x", "train", "1")[: header.count(",") + 1]]
    sheet = write_sheet(tmp_path / "sheet.csv", rows, header=header)
    with pytest.raises(InputError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_samplesheet(sheet)


def test_empty_samplesheet(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        load_samplesheet(empty)
    with pytest.raises(InputError, match="no rows"):
        load_samplesheet(write_sheet(tmp_path / "header.csv", []))


def test_samplesheet_resolves_paths_against_its_own_directory(tmp_path, fasta, monkeypatch):
    sub = tmp_path / "sheets"
    sub.mkdir()
    other = write_fasta(tmp_path / "b.fa", [("r2", "ACGT")])
    sheet = write_sheet(sub / "sheet.csv", [("toy", "../a.fa", "x", "train"), ("toy", str(other), "y", "test")])
    monkeypatch.chdir(tmp_path.parent)
    loaded = load_samplesheet(sheet)
    assert list(loaded.columns) == ["dataset", "fasta", "label", "split"]
    assert loaded["fasta"].tolist() == [str(fasta), str(other)]
    repeated = write_sheet(sub / "repeated.csv", [("toy", "../a.fa", "x", "train"), ("toy", str(fasta), "y", "test")])
    with pytest.raises(InputError, match=r"row 2 \(dataset toy\), column fasta: .*listed twice"):
        load_samplesheet(repeated)


# ---------------------------------------------------------------------------- prepare_dataset


def test_rejected_records_are_reported_logged_and_left_out(tmp_path, caplog):
    rng = random.Random(0)
    files = balanced_files(rng)
    files["pos"][2].extend([("iupac", "ACGTRYACGT"), ("digit", "ACG1T"), ("space", "AC GT")])
    files["neg"][2].append(("empty", ""))
    rows = make_dataset(tmp_path, files)
    with caplog.at_level(logging.WARNING, logger="enhancerlm.analysis.dataset"):
        table, report = prepare_dataset(rows)
    rejected = {item["id"]: item for item in report["rejected"]}
    assert set(rejected) == {"iupac", "digit", "space", "empty"}
    assert rejected["iupac"]["reason"] == "invalid characters 'R', 'Y' (first at position 5)"
    assert rejected["digit"]["reason"] == "invalid character '1' (first at position 4)"
    assert rejected["space"]["reason"] == "invalid character ' ' (first at position 3)"
    assert rejected["empty"]["reason"] == "empty sequence"
    assert rejected["iupac"]["source"] == "pos" and rejected["empty"]["source"] == "neg"
    assert not set(rejected) & set(table["id"])
    assert len(table) == 40
    assert any("pos.fa: record iupac: rejected: invalid characters 'R', 'Y'" in m for m in caplog.messages)
    assert any("4 record(s) rejected" in line for line in report["warnings"])


def test_n_rich_records_are_kept_and_flagged(tmp_path):
    rng = random.Random(1)
    files = balanced_files(rng)
    files["pos"][2].append(("nrich", "N" * 20 + random_dna(rng, 80)))  # 20% N
    files["pos"][2].append(("nfew", "N" * 5 + random_dna(rng, 95)))  # 5% N
    table, report = prepare_dataset(make_dataset(tmp_path, files))
    assert {"nrich", "nfew"} <= set(table["id"])
    assert report["n_rich"] == [{"id": "nrich", "n_fraction": 0.2}]
    _, strict = prepare_dataset(make_dataset(tmp_path, files), max_n_fraction=0.01)
    assert {item["id"] for item in strict["n_rich"]} == {"nrich", "nfew"}


def test_repeated_ids_are_renamed_and_reported(tmp_path):
    rng = random.Random(2)
    files = balanced_files(rng)
    files["pos"][2].extend([("p0", random_dna(rng)), ("p0 other description", random_dna(rng))])
    files["neg"][2].append(("p1", random_dna(rng)))
    table, report = prepare_dataset(make_dataset(tmp_path, files))
    assert table["id"].is_unique
    assert report["renamed_ids"] == [
        {"original": "p0", "new": "p0.dup2", "source": "pos"},
        {"original": "p0", "new": "p0.dup3", "source": "pos"},
        {"original": "p1", "new": "p1.dup2", "source": "neg"},
    ]
    assert table["id"].tolist()[20:22] == ["p0.dup2", "p0.dup3"]


def test_reverse_complement_duplicates_share_group_and_fold(tmp_path):
    rng = random.Random(3)
    files = balanced_files(rng, n=30)
    seq = random_dna(rng)
    files["pos"][2].extend([("same", seq.lower()), ("rc", reverse_complement(seq))])
    files["neg"][2].append(("conflict", seq))
    files["test_pos"] = (
        "enhancer",
        "test",
        [("t_ident", seq), ("t_rc", reverse_complement(files["pos"][2][5][1])), ("t_new", random_dna(rng))],
    )
    files["test_neg"] = ("non-enhancer", "test", [("t_neg", random_dna(rng))])
    table, report = prepare_dataset(make_dataset(tmp_path, files))
    by_id = table.set_index("id")
    trio = by_id.loc[["same", "rc", "conflict"]]
    assert trio["group"].nunique() == 1
    assert trio["fold"].nunique() == 1
    train = report["duplicates"]["within_split"]["train"]
    assert (train["groups"], train["records"]) == (1, 3)
    assert (train["identical_pairs"], train["reverse_complement_pairs"]) == (1, 2)
    assert train["label_conflicts"] == 1
    assert by_id.loc["t_ident", "leak"] == "identical"
    assert by_id.loc["t_rc", "leak"] == "reverse_complement"
    assert by_id.loc["t_new", "leak"] == "none" and by_id.loc["t_neg", "leak"] == "none"
    assert (by_id.loc[["t_ident", "t_rc", "t_new"], "fold"] == -1).all()
    leak = report["duplicates"]["train_test"]
    assert (leak["total"], leak["identical"], leak["reverse_complement"]) == (2, 1, 1)
    assert leak["message"].startswith("LEAK: 2 of 3 test enhancer records (66.7%) duplicate a training sequence")
    assert "0 of 1 test non-enhancer records do" in leak["message"]


def test_folds_are_stratified_grouped_and_deterministic(tmp_path):
    rng = random.Random(4)
    files = balanced_files(rng, n=50)
    files["neg"][2].extend((f"extra{i}", random_dna(rng)) for i in range(50))  # 50 pos : 100 neg
    rows = make_dataset(tmp_path, files)
    table, report = prepare_dataset(rows, folds=5, seed=7)
    assert list(table.columns) == COLUMNS
    assert sorted(table["fold"].unique()) == [0, 1, 2, 3, 4]
    per_fold = table.groupby(["fold", "label"]).size().unstack()
    assert (per_fold[1] == 10).all() and (per_fold[0] == 20).all()
    assert report["folds"]["records"]["0"] == {"enhancer": 10, "non-enhancer": 20}
    again, _ = prepare_dataset(rows, folds=5, seed=7)
    other, _ = prepare_dataset(rows, folds=5, seed=8)
    assert table["fold"].tolist() == again["fold"].tolist()
    assert table["fold"].tolist() != other["fold"].tolist()
    with pytest.raises(InputError, match="fewer than folds=500"):
        prepare_dataset(rows, folds=500)


@pytest.mark.parametrize(
    ("labels", "positive", "expected", "rule"),
    [
        (("enhancer", "non-enhancer"), None, "enhancer", "negative-name"),
        (("negative", "enhancer"), None, "enhancer", "negative-name"),
        (("0", "1"), None, "1", "0/1"),
        (("weak", "strong"), None, "weak", "first-row"),
        (("weak", "strong"), "strong", "strong", "given"),
        (("weak", "strong"), "other", "weak", "first-row"),
    ],
)
def test_positive_class_rules(tmp_path, labels, positive, expected, rule):
    rng = random.Random(5)
    files = {
        "a": (labels[0], "train", [(f"a{i}", random_dna(rng)) for i in range(10)]),
        "b": (labels[1], "train", [(f"b{i}", random_dna(rng)) for i in range(10)]),
    }
    table, report = prepare_dataset(make_dataset(tmp_path, files), positive=positive)
    assert report["labels"]["1"] == expected and report["labels"]["positive_rule"] == rule
    assert set(table.loc[table["label"] == 1, "class"]) == {expected}


def test_read_dataset_round_trip_keeps_string_ids(tmp_path):
    rng = random.Random(6)
    files = balanced_files(rng)
    files["pos"][2].append(("NA", random_dna(rng)))
    files["neg"][2].append(("007", random_dna(rng)))
    sheet = write_sheet(
        tmp_path / "sheet.csv", [("toy", f"{name}.fa", label, split) for name, (label, split, _) in files.items()]
    )
    for name, (_, _, records) in files.items():
        write_fasta(tmp_path / f"{name}.fa", records)
    paths = prepare_samplesheet(sheet, tmp_path / "out")["toy"]
    table = read_dataset(paths["dataset"])
    assert {"NA", "007"} <= set(table["id"])
    assert table["label"].dtype.kind == "i" and table["fold"].dtype.kind == "i"
    broken = tmp_path / "broken.tsv"
    table.drop(columns="leak").to_csv(broken, sep="\t", index=False)
    with pytest.raises(InputError, match=f"{broken}: missing column"):
        read_dataset(broken)
    table.assign(label=2).to_csv(broken, sep="\t", index=False)
    with pytest.raises(InputError, match="label must be 0 or 1"):
        read_dataset(broken)


# ---------------------------------------------------------------------------- bundled benchmark


@pytest.fixture(scope="module")
def layer1(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("layer1")
    paths = prepare_samplesheet(SHEETS / "ienhancer2l_layer1.csv", outdir)["ienhancer2l_layer1"]
    return read_dataset(paths["dataset"]), json.loads(paths["report"].read_text())


def test_layer1_counts_and_labels(layer1):
    table, report = layer1
    assert table["source"].value_counts().to_dict() == {
        "train_strong": 742,
        "train_weak": 742,
        "train_non": 1484,
        "test_strong": 100,
        "test_weak": 100,
        "test_non": 200,
    }
    assert report["labels"] == {"0": "non-enhancer", "1": "enhancer", "positive_rule": "negative-name"}
    assert report["counts"] == {
        "train": {"enhancer": 1484, "non-enhancer": 1484},
        "test": {"enhancer": 200, "non-enhancer": 200},
    }
    assert table["sequence"].str.fullmatch("[ACGTN]{200}").all()
    assert report["rejected"] == []
    assert table["id"].is_unique and len(report["renamed_ids"]) > 0
    assert report["version"] and len(report["inputs"]) == 6
    assert all(len(item["sha256"]) == 64 for item in report["inputs"])


def test_layer1_exact_leak_is_exactly_test_strong_and_five_more_records_nearly_copy_train(layer1):
    table, report = layer1
    copies = table[table["leak"].isin(["identical", "reverse_complement"])]
    assert len(copies) == 100 and (copies["leak"] == "identical").all()
    assert set(copies["source"]) == {"test_strong"}
    near = table[table["leak"] == "near_duplicate"]
    assert near["class"].value_counts().to_dict() == {"non-enhancer": 4, "enhancer": 1}
    leak = report["duplicates"]["train_test"]
    assert (leak["total"], leak["identical"], leak["near_duplicate"]) == (105, 100, 5)
    assert leak["per_class"]["non-enhancer"]["near_duplicate"] == 4
    assert "101 of 200 test enhancer" in leak["message"] and "1 near copies" in leak["message"]
    assert leak["message"] in report["warnings"]
    assert report["duplicates"]["near_duplicates"] == {
        "rule": {"identity": 0.9, "coverage": 0.5},
        "train_pairs": report["duplicates"]["near_duplicates"]["train_pairs"],
    }
    assert report["duplicates"]["near_duplicates"]["train_pairs"] > 0


def test_layer1_folds_keep_train_duplicate_groups_together(layer1):
    table, _ = layer1
    train = table[table["split"] == "train"]
    assert set(train["fold"]) == {0, 1, 2, 3, 4}
    assert (train.groupby("group")["fold"].nunique() == 1).all()
    assert (table.loc[table["split"] == "test", "fold"] == -1).all()


def test_layer2_positive_is_strong(tmp_path):
    paths = prepare_samplesheet(SHEETS / "ienhancer2l_layer2.csv", tmp_path)["ienhancer2l_layer2"]
    report = json.loads(paths["report"].read_text())
    assert report["labels"]["1"] == "strong" and report["labels"]["0"] == "weak"
    assert report["counts"] == {"train": {"strong": 742, "weak": 742}, "test": {"strong": 100, "weak": 100}}
    assert "100 of 100 test strong" in report["duplicates"]["train_test"]["message"]


def test_gzipped_fasta_in_samplesheet_gives_source_without_extensions(tmp_path):
    rng = random.Random(8)
    files = balanced_files(rng)
    records = files.pop("pos")[2]
    (tmp_path / "pos.fasta.gz").write_bytes(gzip.compress("".join(f">{i}\n{s}\n" for i, s in records).encode()))
    write_fasta(tmp_path / "neg.fa", files["neg"][2])
    sheet = write_sheet(
        tmp_path / "sheet.csv",
        [("toy", "pos.fasta.gz", "enhancer", "train"), ("toy", "neg.fa", "non-enhancer", "train")],
    )
    table, report = prepare_dataset(load_samplesheet(sheet))
    assert table["source"].value_counts().to_dict() == {"pos": 20, "neg": 20}
    assert [item["records"] for item in report["inputs"]] == [20, 20]


def test_near_copies_share_a_fold_and_leak_into_test_unless_turned_off(tmp_path):
    """A substituted copy, a window shifted to overlap 60 % and the reverse complement of a near copy: in train they
    join one fold; in test a near copy is a `near_duplicate` leak, counted per class and left out of leak_free, and a
    record sharing a 70 nt stretch is not; with the check off, or stricter than the copy, they are unrelated."""
    from enhancerlm.analysis.near_duplicates import NearDuplicateRule

    rng = random.Random(5)
    files = balanced_files(rng, n=30)
    anchor, other = random_dna(rng, 300), random_dna(rng, 200)

    def substituted(sequence: str, every: int) -> str:
        return "".join({"A": "C"}.get(b, "A") if i % every == 3 else b for i, b in enumerate(sequence))

    files["pos"][2].extend(
        [
            ("anchor", anchor[:200]),
            ("shifted", anchor[80:280]),
            ("rc_near", reverse_complement(substituted(anchor[:200], 25))),
        ]
    )
    files["neg"][2].append(("other", other))
    far = other[:70] + random_dna(rng, 130)
    files["test_pos"] = ("enhancer", "test", [("t_near", substituted(other, 33)), ("t_far", far)])
    files["test_neg"] = ("non-enhancer", "test", [("t_neg", random_dna(rng))])
    table, report = prepare_dataset(make_dataset(tmp_path, files))
    by_id = table.set_index("id")
    assert by_id.loc[["anchor", "shifted", "rc_near"], "group"].nunique() == 3
    assert by_id.loc[["anchor", "shifted", "rc_near"], "fold"].nunique() == 1
    assert by_id.loc["t_near", "leak"] == "near_duplicate"
    assert by_id.loc["t_far", "leak"] == "none" and by_id.loc["t_neg", "leak"] == "none"
    leak = report["duplicates"]["train_test"]
    assert (leak["total"], leak["near_duplicate"]) == (1, 1)
    assert leak["per_class"]["enhancer"]["near_duplicate"] == 1 and "1 near copies" in leak["message"]
    assert report["duplicates"]["near_duplicates"] == {"rule": {"identity": 0.9, "coverage": 0.5}, "train_pairs": 3}
    (tmp_path / "off").mkdir()
    (tmp_path / "strict").mkdir()
    off, off_report = prepare_dataset(make_dataset(tmp_path / "off", files), near_duplicates=None)
    assert (off["leak"] == "none").all() and off_report["duplicates"]["near_duplicates"] == {"rule": "off"}
    strict, _ = prepare_dataset(make_dataset(tmp_path / "strict", files), near_duplicates=NearDuplicateRule(0.99))
    assert strict.set_index("id").loc["t_near", "leak"] == "none"  # 97 % identical
