"""The message catalogues: zh and en hold the same ids with the same placeholders, every id the
package uses exists and none is unused; validate and run speak the study's language, name the
user's own columns, and cut long lists at 10 with "and N more"."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from eldercare_coverage import cli
from eldercare_coverage.errors import InputError, ProblemReport
from eldercare_coverage.messages import CATALOGUES, LIST_LIMIT, Row, Text, detect_language, placeholders

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "coverage"
CATALOGUE_FILES = {"messages_zh.py", "messages_en.py"}
#: Message ids are "<group>.<name>"; these are the groups.
GROUPS = sorted({key.split(".", 1)[0] for key in CATALOGUES["en"]})
ID = re.compile(rf"^(?:{'|'.join(GROUPS)})\.[a-z0-9_]+$")


def _parts(entry) -> tuple[str, ...]:
    return entry if isinstance(entry, tuple) else (entry,)


def test_zh_and_en_have_the_same_ids_kinds_and_placeholders():
    zh, en = CATALOGUES["zh"], CATALOGUES["en"]
    assert zh.keys() == en.keys(), set(zh) ^ set(en)
    for key in zh:
        a, b = _parts(zh[key]), _parts(en[key])
        assert len(a) == len(b), f"{key}: a problem (message, fix) in one language, a plain text in the other"
        for part_zh, part_en in zip(a, b):
            assert placeholders(part_zh) == placeholders(part_en), key
        assert all(isinstance(x, str) for x in a + b), key
        assert ID.match(key), key


def _package_strings() -> dict[str, list[str]]:
    """Every string constant of the package source outside the catalogues -> where it occurs."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in CATALOGUE_FILES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.setdefault(node.value, []).append(f"{path.name}:{node.lineno}")
    return found


def test_every_id_the_package_uses_exists_and_none_is_unused():
    strings = _package_strings()
    used = {s for s in strings if ID.match(s)}
    missing = {s: strings[s] for s in used if s not in CATALOGUES["en"]}
    assert not missing, f"ids used but not in the catalogues: {missing}"
    unused = set(CATALOGUES["en"]) - used
    assert not unused, f"catalogue ids no code uses: {sorted(unused)}"


def test_no_user_facing_problem_is_a_sentence_written_in_code():
    """Every report.error/warning/info and InputError names a message id (or a Text), never text."""
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            receiver = ast.unparse(f.value) if isinstance(f, ast.Attribute) else ""
            if name in ("error", "warning", "info") and receiver not in ("log", "logger", "logging"):
                arg = node.args[1] if len(node.args) > 1 else None
            elif name in ("InputError", "OutputError"):
                arg = node.args[0] if node.args else None
            else:
                continue
            if isinstance(arg, ast.JoinedStr) or (isinstance(arg, ast.Constant) and not ID.match(str(arg.value))):
                bad.append(f"{path.name}:{node.lineno}")
    assert not bad, bad


def test_one_report_renders_in_either_language_with_the_users_column():
    report = ProblemReport(language="zh")
    report.map_columns("population.csv", {"elderly_population": "老年人口"})
    report.error("population.csv", "io.not_a_number", row=Row(line=4, ident="C1"), column="elderly_population",
                 value="abc", unit="")
    problem = report.problems[0]
    assert problem.field == "老年人口" and problem.is_column and problem.code == "io.not_a_number"
    zh, en = report.format("zh"), report.format("en")
    assert "第 4 行（编码 C1），列「老年人口」：「abc」不是数字。" in zh and "1 个错误" in zh
    assert "row 4 (id C1), column '老年人口': 'abc' is not a number. Fix: Give 老年人口 as a number." in en
    assert problem.message == "'abc' is not a number." and problem.row == "4 (id C1)"  # English for scripts


def test_language_of_a_config_that_cannot_be_parsed(tmp_path):
    assert detect_language('[study]\nname = "x"\nlanguage = "en"\n[access\n') == "en"
    assert detect_language('[study]\nlanguage = "fr"\n') == "zh"
    assert detect_language("") == "zh"
    assert detect_language('[output]\nlanguage = "en"\n') == "zh"  # not the study's key
    broken = tmp_path / "s.toml"
    broken.write_text('[study]\nlanguage = "en"\nname = "x\n', encoding="utf-8")
    from eldercare_coverage.config import load_config

    with pytest.raises(InputError) as info:
        load_config(broken)
    assert info.value.report.language == "en" and "not valid TOML" in str(info.value)
    broken.write_text('[study]\nname = "x\n', encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_config(broken)
    assert "不是有效的 TOML" in str(info.value)  # no language line: the default, zh


def test_report_cut_at_ten_with_and_n_more():
    report = ProblemReport(language="zh")
    for i in range(14):
        report.warning("a.csv", "io.fractional_count", row=Row(line=i + 2), column="population", n=1, value="1.5")
    report.error("a.csv", "io.file_empty")
    lines = report.format_terminal(more_hint=Text("problems.more_file", path="out/validation.txt").render("zh"))
    lines = lines.splitlines()
    assert len(lines) == LIST_LIMIT + 2 and lines[0].startswith("错误：a.csv")  # errors first
    assert lines[LIST_LIMIT] == "……另有 5 项（完整列表见 out/validation.txt）"
    assert lines[-1] == "1 个错误，14 个警告。"
    en = report.format("en", limit=LIST_LIMIT).splitlines()
    assert en[LIST_LIMIT] == "... and 5 more" and len(report.format().splitlines()) == 16


# ---------------------------------------------------------------------------------------------
# The command line on a broken copy of the sample

#: English words allowed in zh output: units, identifiers and names of formats and systems.
_ALLOWED = re.compile(r"(/[^\s，。：；（）「」]+)|([A-Za-z_]+\.[A-Za-z_.]+)|(WGS 84 / UTM zone \d+N)")
_ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,;:'-]+[A-Za-z]{2,}){2,}")  # three English words in a row


def _english_in(text: str) -> list[str]:
    return _ENGLISH.findall(_ALLOWED.sub(" ", text))


def _break(folder: Path, n_bad: int = 1) -> None:
    """Older residents as text in ``n_bad`` rows of the population table (the user's column 60岁以上人口)."""
    path = folder / "population.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    for k in range(1, n_bad + 1):
        cells = lines[k].split(",")
        cells[4] = "约一千" if k == 1 else f"x{k}"
        lines[k] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _set_language(folder: Path, language: str) -> Path:
    config = folder / "sample.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('language = "zh"', f'language = "{language}"'),
                      encoding="utf-8")
    return config


def test_validate_in_zh_names_the_users_column_with_no_english_sentence(sample_copy, capsys):
    _break(sample_copy)
    code = cli.main(["validate", str(sample_copy / "sample.toml")])
    out = capsys.readouterr().out
    assert code == 2
    assert "列「60岁以上人口」：「约一千」不是数字。修改方法：将「60岁以上人口」写成数字（单位：人）。" in out
    assert "population.csv，第 2 行（编码 " in out and "elderly_population" not in out
    assert "1 个错误" in out and not _english_in(out), _english_in(out)


def test_validate_in_en_names_the_users_column(sample_copy, capsys):
    _break(sample_copy)
    code = cli.main(["validate", str(_set_language(sample_copy, "en"))])
    out = capsys.readouterr().out
    assert code == 2
    assert "row 2 (id " in out and "column '60岁以上人口': '约一千' is not a number." in out
    assert "Fix: Give 60岁以上人口 as a number in persons." in out and "elderly_population" not in out
    assert "1 error(s)" in out and not re.search("[错误警告修改]", out)


def test_config_network_and_data_problems_come_in_one_round(sample_copy, capsys):
    """A config error, a broken network file and a data error: all in the first report, run and validate."""
    _break(sample_copy)
    (sample_copy / "empty.osm").write_text("<osm version='0.6'></osm>", encoding="utf-8")
    config = sample_copy / "sample.toml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r'path = "[^"]*chengdu-jinniu-xindu.osm.bz2"', 'path = "empty.osm"', text)
    config.write_text(text.replace("[siting]", "[siting]\nwieght = 1"), encoding="utf-8")
    for command in ("validate", "run"):
        code = cli.main([command, str(config)])
        captured = capsys.readouterr()
        out = captured.out + captured.err
        assert code == 2, out
        assert "未知的配置项「siting.wieght」" in out, out  # the config
        assert "列「60岁以上人口」" in out  # the data
        assert "empty.osm" in out and ("研究区内没有可步行的街道" in out or "无法读取步行路网" in out)  # the network
        assert "未写入任何文件" in out or command == "validate"
    assert not (sample_copy / "out").exists()


def test_validate_cuts_the_list_at_ten_and_all_lists_every_problem(sample_copy, capsys):
    _break(sample_copy, n_bad=14)  # 10 rows, "and 4 more rows", and the sample's own notes
    config = str(sample_copy / "sample.toml")
    assert cli.main(["validate", config]) == 2
    out = capsys.readouterr().out.splitlines()
    problems = [line for line in out if line.startswith(("错误", "警告", "说明"))]
    assert len(problems) == LIST_LIMIT
    more = [line for line in out if line.startswith("……另有 ")]
    assert len(more) == 1 and more[0].endswith(f"（完整列表：eldercare-coverage validate --all {config}）")
    n_more = int(more[0].split("另有 ")[1].split(" 项")[0])
    assert cli.main(["validate", "--all", config]) == 2
    full = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("错误", "警告", "说明"))]
    assert len(full) == LIST_LIMIT + n_more and any("……另有 4 行存在同样的问题" in line for line in full)


def test_run_warnings_and_validation_txt_in_the_study_language(sample_copy, tmp_path, capsys):
    """A run with a warning about the user's column: printed and written in zh, renderable in en."""
    path = sample_copy / "population.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    cells = lines[1].split(",")
    cells[4] = cells[4] + ".5"  # a fractional count of older residents: a warning, the run goes on
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert cli.main(["run", str(sample_copy / "sample.toml")]) == 0
    err = capsys.readouterr().err
    assert "列「60岁以上人口」：1 行的「60岁以上人口」带小数" in err
    written = (sample_copy / "out" / "validation.txt").read_text(encoding="utf-8")
    assert "警告：" in written and "列「60岁以上人口」：1 行的「60岁以上人口」带小数" in written
    assert "WARNING" not in written and not _english_in(written), _english_in(written)


def test_run_prints_the_first_ten_warnings_live_and_counts_the_rest(capsys):
    cli._setup_logging(False, False)
    try:
        report = ProblemReport(language="zh")
        for i in range(13):
            report.warning("a.csv", "io.fractional_count", row=Row(line=i + 2), column="population", n=1,
                           value=f"1.{i + 1}")
        err = capsys.readouterr().err
        assert err.count("警告：a.csv，第 ") == LIST_LIMIT and cli._CAP.held == 3
    finally:
        cli._setup_logging(False, False)  # a fresh cap for whatever runs next


def test_problems_table_for_notebooks_is_in_the_reports_language():
    from eldercare_coverage.display import problems_table

    report = ProblemReport(language="zh")
    report.map_columns("p.csv", {"population": "人口"})
    report.error("p.csv", "io.number_negative", row=Row(line=3, ident="C1"), column="population", value="-5")
    row = problems_table(report).iloc[0]
    assert row["row"] == "第 3 行（编码 C1）" and row["field"] == "人口" and row["message"] == "「人口」为负数（-5）。"
    assert problems_table(report, "en").iloc[0]["message"] == "人口 is negative (-5)."
