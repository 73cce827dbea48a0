"""`python -m benchmarks report`: the READMEs' benchmark figures are what the committed result files give, and the
tables say which core, which goal and which older, unequal measurement each figure comes from."""

from __future__ import annotations

import copy

from benchmarks.report import load, render, replace_section, rows, section, table, targets


def test_committed_readmes_hold_what_report_generates_from_the_committed_files() -> None:
    sections = render(load())
    for name, path in targets().items():
        assert section(path.read_text(), name) == sections[name], (
            f"{path} differs from the result files: run `python -m benchmarks report` (figures are not edited by hand)")


def test_a_figure_edited_by_hand_is_told_apart() -> None:
    sections = render(load())
    readme = targets()["benchmarks"].read_text()
    figure = f"{load()['latest.json']['b1_entries_per_s_core']:,}"
    edited = readme.replace(figure, "9" + figure[1:], 1)
    assert edited != readme  # the latest B1 median is in the paragraph
    assert section(edited, "benchmarks") != sections["benchmarks"]
    assert section(replace_section(edited, "benchmarks", sections["benchmarks"]), "benchmarks") \
        == sections["benchmarks"]


def _spread(x: float) -> dict[str, float]:
    return {"median": x, "min": x * 0.9, "max": x * 1.1}


def test_rows_of_a_current_run_name_both_cores_the_goals_and_no_footnote() -> None:
    result = {
        "date": "2026-12-01T10:00:00+00:00",
        "core": {"b2_entries_per_s_2_workers": "native"},
        "details": {
            "b1": {"floor_entries_per_s": _spread(1.5e6), "runs": 5, "cores": {
                "native": {"entries_per_s": _spread(1.2e6), "mb_per_s": _spread(300.0),
                           "ratio_to_floor": _spread(0.8)},
                "python": {"entries_per_s": _spread(5e4), "mb_per_s": _spread(14.0),
                           "ratio_to_floor": _spread(0.03)}}},
            "b2_discard_2w": {"entries_per_s": _spread(3e5), "cpu_s_per_million": _spread(5.0), "core": "native",
                              "worker_peak_rss_mb": _spread(500.0), "runs": 5},
            "b4_files": {"lines_per_s_core": _spread(7e5), "lines_per_s_wall": _spread(6e5),
                         "rsyslog_lines_per_s_core": _spread(2e5), "ratio_to_rsyslog": _spread(3.5),
                         "rsyslog_settings": "reopenOnHup off", "runs": 5},
            "b5": {"entries_per_s": _spread(3e4), "entries_per_cpu_s": _spread(9e4), "core": "native",
                   "rsyslog_entries_per_s": _spread(5e4), "rsyslog_entries_per_cpu_s": _spread(6e4),
                   "ratio_per_cpu_s": _spread(1.5), "span": "20-80%", "runs": 5},
        },
    }
    got, notes = rows(result)
    assert not notes
    text, footnotes = table(got, notes)
    assert not footnotes and "[1]" not in text
    lines = text.splitlines()
    assert "| B1 hot path, entries/s on one core | native | 1,200,000 | 1,080,000 | 1,320,000 | >= 1,000,000 | yes |" \
        in lines
    assert "| B1 hot path, entries/s on one core | python | 50,000 | 45,000 | 55,000 | >= 1,000,000 | " \
           "**no: 20.0x short** |" in lines
    assert "| B2 processor, 2 workers, discard sink, entries/s | native | 300,000 | 270,000 | 330,000 | " \
           ">= 700,000 | **no: 2.3x short** |" in lines
    assert "| B2 processor, 2 workers, discard sink, peak RSS of a worker, MB | native | 500 | 450 | 550 | <= 400 | " \
           "**no: 1.25x over** |" in lines
    assert "| B5 logjet / rsyslog per CPU-second | native | 1.500 | 1.350 | 1.650 | >= 1.5 | yes |" in lines


def test_a_near_miss_reads_as_one_and_the_readme_gives_the_processors_own_b1() -> None:
    from benchmarks.report import Goal

    assert Goal(">=", 0.85).verdict(0.840) == "**no: 1.01x short**"
    assert Goal(">=", 0.66).verdict(0.345) == "**no: 1.9x short**"
    paragraph = render(load())["benchmarks"]
    assert "(native core)" in paragraph and "(python core)" not in paragraph


def test_the_compiled_core_is_compared_with_the_last_full_run_of_the_python_parse_step() -> None:
    report = render(load())["report"].splitlines()
    start = report.index("### Before and after the compiled core: `results/20261125T184026Z.json` against "
                         "`results/latest.json`")
    rows_after = report[start:report.index("", report.index("|---|---:|---:|---:|", start))]
    latest, before = load()["latest.json"], load()["20261125T184026Z.json"]
    ratio = latest["b1_ratio_to_floor"] / before["b1_ratio_to_floor"]
    assert (f"| B1 / floor (same run) | {before['b1_ratio_to_floor']:.3f} | {latest['b1_ratio_to_floor']:.3f} | "
            f"{ratio:.2f}x |") in rows_after
    assert any("not like for like" in line for line in report[start:start + 8])  # that run's peer is flagged
    # The Python optimisations are compared within their own day, not against a later machine's run.
    assert any(line.startswith("### Before and after the Python optimisations:") and "20261125T184026Z" in line
               for line in report)


def test_rows_of_an_older_run_carry_its_core_and_the_notes_of_its_unequal_peer() -> None:
    old = copy.deepcopy(load()["20261125T184026Z.json"])  # the last full run before the compiled core
    got, notes = rows(old)
    assert notes == {"hup", "b5span"}
    assert {r.core for r in got if r.name.startswith("B1 hot path")} == {"python"}  # before the compiled core
    text, footnotes = table(got, notes)
    assert len(footnotes) == 2 and footnotes[0].startswith("[1] ") and "reopenOnHup" in footnotes[0]
    assert all("[1]" in line for line in text.splitlines() if "-> omkafka" in line)
    assert all("[2]" in line for line in text.splitlines() if line.startswith("| B5 rsyslog"))


def test_fuzz_runs_get_their_own_table_and_stay_out_of_the_benchmark_tables() -> None:
    files = load()
    files["fuzz-20261201T000000Z.json"] = {
        "kind": "fuzz", "date": "2026-12-01T00:00:00+00:00", "inputs": 10_000_000, "seed": 1, "sampled_records": 7,
        "failures": {"reference": {"count": 3, "examples": []}}, "failed": 3, "seconds": 3600.0, "core": "native",
        "crate_version": "0.1.0", "commit": "0123456789abcdef", "uncommitted_changes": False}
    report = render(files)["report"]
    assert ("| `results/fuzz-20261201T000000Z.json` | 2026-12-01T00:00:00+00:00 | 10,000,000 | 1 | 7 | reference: 3 | "
            "3,600 | native 0.1.0, 0123456789 |") in report.splitlines()
    assert report.count("fuzz-20261201T000000Z.json") == 1  # not listed among the benchmark files
    assert render(files)["benchmarks"] == render(load())["benchmarks"]


def test_the_newest_first_document_run_gets_its_table_and_the_quick_start_its_figures() -> None:
    files = load()
    first = {"runs": 3, "queries": 8, "core": "native", "up_s": _spread(4.0), "first_doc_s": _spread(8.0),
             "all_queries_s": _spread(10.0), "stop_s": _spread(2.0), "setup": "the demo against running servers"}
    files["20991231T000000Z.json"] = {"date": "2099-12-31T00:00:00+00:00", "machine": {"cores": 2},
                                      "details": {"first_doc": first}}
    files["20990101T000000Z.json"] = {"date": "2099-01-01T00:00:00+00:00", "machine": {"cores": 2},
                                      "details": {"first_doc": {**first, "first_doc_s": _spread(99.0)}}}
    sections = render(files)
    report = sections["report"].splitlines()
    assert "### Time to the first document: `results/20991231T000000Z.json`" in report  # the newest, not the other
    assert "| `/v1/logs` returns the first demo document | 8.0 | 7.2 | 8.8 |" in report
    assert "| (from Ctrl-C) every process it started is gone | 2.0 | 1.8 | 2.2 |" in report
    paragraph = sections["first_doc"].replace("\n", " ")
    assert "`benchmarks/results/20991231T000000Z.json`, median of 3 runs" in paragraph
    assert "the first document is searchable through the API after 8.0 s" in paragraph
    assert "every example query it prints finds documents after 10.0 s" in paragraph
    # In a full run's table too.
    got, _ = rows({"date": "2099-12-31T00:00:00+00:00", "details": {"first_doc": first}})
    assert [(r.name, r.core, r.spread["median"]) for r in got] == [
        ("`logjet up` (demo) until /v1/logs returns a document, s", "native", 8.0),
        ("`logjet up` (demo) until every example query returns one, s", "native", 10.0)]


def test_fault_and_layout_runs_get_their_own_tables_and_stay_out_of_the_benchmark_tables() -> None:
    files = load()
    case = {"fault": "1 broker killed", "lines": 1_000, "lost": 2, "doubled": 0, "delay_p50_s": 1.5,
            "delay_p99_s": 9.25, "delay_max_s": 10.0,
            "metric": {"name": "logjet_collector_records_in_flight", "before": 3.0, "during": 40.0}}
    files["faults-20991231T000000Z.json"] = {
        "kind": "faults", "date": "2099-12-31T00:00:00+00:00",
        "cluster": {"kafka_brokers": 3, "elasticsearch_nodes": 3},
        "faults": {"test_one": case}, "failed": ["test_one"], "seconds": 120.0, "commit": "fedcba9876543210",
        "uncommitted_changes": True}
    total = {"lines": 10, "timestamp": 0.9, "level": 0.5, "message": 0.25, "fields": 1.0}
    files["layouts-20991231T000000Z.json"] = {"kind": "layouts", "date": "2099-12-31T00:00:00+00:00",
                                              "commit": "0123456789abcdef", "catalogue": {"total": total},
                                              "loghub": {"total": {**total, "lines": 20}}}
    report = render(files)["report"].splitlines()
    assert ("| `results/faults-20991231T000000Z.json` | 1 broker killed | 1,000 | 2 | 0 | 1.5 / 9.25 / 10.0 | "
            "`logjet_collector_records_in_flight` 3 → 40 |") in report
    assert any("failed tests: test_one." in line and "fedcba9876 (with uncommitted changes)" in line
               for line in report)
    assert ("| `results/layouts-20991231T000000Z.json` | 0123456789 | catalogue | 10 | 90.0% | 50.0% | 25.0% | "
            "100.0% |") in report
    assert "| `results/layouts-20991231T000000Z.json` | 0123456789 | Loghub | 20 | 90.0% | 50.0% | 25.0% | 100.0% |" \
        in report
    # Neither is a benchmark: the benchmark tables and the README's paragraphs do not change.
    assert render(files)["benchmarks"] == render(load())["benchmarks"]
    assert render(files)["first_doc"] == render(load())["first_doc"]


def test_the_newest_pattern_score_gets_its_table_and_stays_out_of_the_benchmark_tables() -> None:
    files = load()
    files["patterns-20991231T000000Z.json"] = {
        "kind": "patterns", "date": "2099-12-31T00:00:00+00:00", "commit": "0123456789abcdef", "core": "native",
        "mean_ga": 0.75, "systems": {"Apache": {"lines": 2000, "ga": 1.0, "patterns": 6, "events": 6},
                                     "OpenSSH": {"lines": 2000, "ga": 0.5, "patterns": 30, "events": 27}}}
    report = render(files)["report"].splitlines()
    assert "| OpenSSH | 2,000 | 0.500 | 30 | 27 |" in report
    assert "| **mean** | | **0.750** | | |" in report
    assert any("`results/patterns-20991231T000000Z.json` (0123456789, core native)" in line for line in report)
    assert render(files)["benchmarks"] == render(load())["benchmarks"]


def test_the_newest_b1_run_with_both_implementations_gets_its_own_table() -> None:
    files = load()
    spread = {"median": 100_000.0, "min": 90_000.0, "max": 110_000.0}
    ratio = {"median": 0.5, "min": 0.4, "max": 0.6}
    b1 = {"entries": 1_000, "runs": 5, "floor_entries_per_s": {"median": 200_000.0, "min": 1.0, "max": 2.0},
          "cores": {"native": {"entries_per_s": spread, "mb_per_s": spread, "ratio_to_floor": ratio}}}
    files["20991231T000000Z.json"] = {"date": "2099-12-31T00:00:00+00:00", "machine": {"cores": 2},
                                      "details": {"b1": b1}}
    report = render(files)["report"].splitlines()
    assert "### Newest B1 run: `results/20991231T000000Z.json`" in report
    assert "| B1 logjet / floor (same run) | native | 0.500 | 0.400 | 0.600 | >= 0.66 | **no: 1.3x short** |" in report
