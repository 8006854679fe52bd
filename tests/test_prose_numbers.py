"""Every measured number a notebook's Markdown states is one that the same notebook's outputs print.

Conclusions are prose (readable on GitHub, before a run and in the student versions); this test keeps them
true: a full re-run that changes a result fails here instead of leaving the prose quoting a stale number.
The rules (what counts as a measured number, how it matches, the explained allow-list) are in
``vae_helpers/tools/prose_numbers.py``; ``python -m vae_helpers.tools.prose_numbers`` lists the findings.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from vae_helpers.config import REPO_ROOT
from vae_helpers.errors import ConfigError
from vae_helpers.tools import prose_numbers
from vae_helpers.tools.prose_numbers import check_notebook, course_notebooks, written_numbers


def assert_prose_matches_outputs(nb: nbformat.NotebookNode, name: str) -> None:
    findings = check_notebook(nb, name)
    assert not findings, (
        f"{len(findings)} number(s) in Markdown that no output of the notebook prints (stale after a re-run?). "
        "Quote the printed number, or add a constant to ALLOWED in vae_helpers/tools/prose_numbers.py "
        "with its reason:\n" + "\n".join(str(finding) for finding in findings)
    )


def notebook(markdown: str, printed: str) -> nbformat.NotebookNode:
    """A two-cell notebook: a code cell whose output prints ``printed``, then a Markdown cell."""
    code = nbformat.v4.new_code_cell("print(results)")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    return nbformat.v4.new_notebook(cells=[code, nbformat.v4.new_markdown_cell(markdown)])


def found(markdown: str, printed: str) -> list[str]:
    return [finding.number for finding in check_notebook(notebook(markdown, printed), "99_synthetic.ipynb")]


@pytest.mark.parametrize("path", course_notebooks(), ids=lambda p: p.name)
def test_every_number_in_the_prose_is_printed_by_the_notebook(path: Path):
    assert_prose_matches_outputs(nbformat.read(path, as_version=4), path.name)


def test_the_course_notebooks_are_found():
    names = [path.name for path in course_notebooks()]
    assert len(names) >= 9 and names[0].startswith("00_") and not any("student" in str(p) for p in names)


def test_a_stale_number_fails_with_notebook_cell_number_and_sentence():
    nb = notebook("## Summary\nThe test ELBO is $-86.91$ nats. The KL is 24.3 nats.", "test ELBO -86.76, KL 24.31\n")
    with pytest.raises(AssertionError) as failure:
        assert_prose_matches_outputs(nb, "05_synthetic.ipynb")
    message = str(failure.value)
    assert "05_synthetic.ipynb, cell 1: 86.91 in 'The test ELBO is $-86.91$ nats.'" in message
    assert "24.3" not in message  # the KL is current: 24.31 rounds to 24.3


def test_the_same_notebook_passes_once_the_number_is_current():
    nb = notebook("## Summary\nThe test ELBO is $-86.76$ nats. The KL is 24.3 nats.", "test ELBO -86.76, KL 24.31\n")
    assert_prose_matches_outputs(nb, "05_synthetic.ipynb")


def test_a_printed_number_matches_to_the_digits_written():
    assert found("The bound is 105.6 nats.", "bound 105.63") == []  # rounds to the written number
    assert found("The bound is 105.6 nats.", "bound 105.66") == ["105.6"]  # rounds to 105.7
    assert found("The bound is 105.63 nats.", "bound 105.6") == ["105.63"]  # printed with fewer digits
    assert found("The gap is 434 times the theory.", "ratio 433.9x") == []
    assert found("The gap is 434 times.", "ratio 436.2x") == ["434"]


def test_minus_signs_latex_and_thousands_separators_are_read():
    printed = "ELBO -86.76; 12345 images; loss 0.0008"
    assert found("An ELBO of −86.76 on $12\\,345$ images, a loss of $0.0008$.", printed) == []
    assert found("An ELBO of −86.77 on 12,346 images, a loss of $0.0009$.", printed) == ["86.77", "12,346", "0.0009"]
    assert [w.text for w in written_numbers("On $12{,}345$ and 12\u2009345 images")] == ["12,345", "12,345"]


def test_both_ends_of_a_range_are_checked():
    assert found("Its inactive dimensions hold 0.005–0.009 nats.", "kl 0.0052 0.0091") == []
    assert found("Its inactive dimensions hold 0.005–0.009 nats.", "kl 0.0052") == ["0.009"]
    assert found("Between 0.005-0.009 nats.", "kl 0.0052") == ["0.009"]


def test_percentages_match_printed_percentages_or_fractions():
    assert found("The judge finds 36.4% of them.", "tpr 36.4%") == []
    assert found("The judge finds 36% of them.", "tpr 0.3642") == []
    assert found("The judge finds 50% of them.", "tpr 36.4%") == ["50%"]
    assert found("It reaches 36.4\\% on the test set.", "tpr 0.30") == ["36.4%"]


def test_millions_match_a_printed_count():
    assert found("The conv VAE has 1.7 M parameters.", "parameters 1,691,369") == []
    assert found("The conv VAE has 1.9 M parameters.", "parameters 1,691,369") == ["1.9"]


def test_settings_round_numbers_years_sections_and_code_are_not_measurements():
    markdown = (
        "## 6.1 Training\nTrain for 10 epochs on 60,000 images with `lr = 0.0013` (Bowman et al. 2016), "
        "as in section 6.1; see notebook 06.\n```\nbeta = 4.75\n```\n[the table](#table-1.25), "
        '<img src="fig_0.123.png" width="512">, D = 20, 28x28 pixels.'
    )
    assert written_numbers(markdown) == []


def test_numbers_of_three_significant_digits_count_and_fewer_do_not():
    assert [w.text for w in written_numbers("We see 454 of 1,000 and 1,230 of 2,000 and 47 of 50.")] == [
        "454",
        "1,230",
    ]


def test_the_allow_list_spares_constants_and_only_where_it_applies():
    assert found("A 28x28 image has 784 pixels; log 10 = 2.303 nats.", "nothing") == []
    assert "784" in prose_numbers.ALLOWED and all(reason for reason in prose_numbers.ALLOWED.values())
    # 178 (CelebA's published width) is allowed in notebook 10 only.
    nb = notebook("The images are 178 pixels wide.", "nothing")
    assert check_notebook(nb, "10_celeba_faces.ipynb") == []
    assert [f.number for f in check_notebook(nb, "05_mlp_vae.ipynb")] == ["178"]


def test_html_and_markdown_outputs_count_as_printed():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "show()",
                outputs=[
                    nbformat.v4.new_output(
                        "display_data", data={"text/html": "<td>171.2</td>", "text/markdown": "FD **140.4**"}
                    )
                ],
            ),
            nbformat.v4.new_markdown_cell("Midpoints score 140.4 against 171.2; images score 156.3."),
        ]
    )
    assert [f.number for f in check_notebook(nb, "05_synthetic.ipynb")] == ["156.3"]


def test_the_command_line_reports_findings_and_exit_status(tmp_path: Path, capsys):
    path = tmp_path / "05_synthetic.ipynb"
    nbformat.write(notebook("The bound is 105.6 nats.", "bound 104.2"), path)
    assert prose_numbers.main([str(path)]) == 1
    assert "05_synthetic.ipynb, cell 1: 105.6" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="no such notebook"):
        prose_numbers.main([str(tmp_path / "missing.ipynb")])


def test_the_check_reads_the_real_course_folder():
    assert course_notebooks(REPO_ROOT)[0].parent == REPO_ROOT / "notebooks"
