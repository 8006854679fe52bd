"""Every measured number a notebook's prose states must be one that the notebook's outputs print.

A conclusion written in Markdown reads as prose on GitHub, in JupyterLab before a run and in the student
versions; this check keeps it true. A *measured number* in a Markdown cell is a decimal (``105.6``,
``0.0008``), a percentage (``36%``), or a number of three or more significant digits (``454``, ``1,234``;
trailing zeros do not count, so ``60,000`` and ``10,000`` are round settings, not measurements). Each must
match, to the digits written, a number printed by one of the same notebook's outputs (stream, text/plain,
text/markdown, text/html): a number printed with more digits matches when it rounds to the written one,
and a percentage also matches a printed fraction (``0.364`` for ``36.4%``). Signs are ignored (prose says
"improves by 0.32" for a printed ``-0.32``).

What is not a measurement is skipped: inline code and code blocks (settings such as ``SIGMA = 0.05``), link
targets and HTML tags, section numbers (``section 6.1``, a heading's ``## 6.1``), and a four-digit year
(1900-2099 written without a thousands separator, as citations write them). Constants, settings and
published numbers that the outputs do not print are listed, with the reason, in :data:`ALLOWED` (for every
notebook) or :data:`ALLOWED_IN` (for one notebook).

Usage::

    python -m vae_helpers.tools.prose_numbers              # every notebooks/NN_*.ipynb
    python -m vae_helpers.tools.prose_numbers notebooks/05_mlp_vae.ipynb

prints one line per unmatched number (notebook, cell index, number, sentence) and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from vae_helpers.config import REPO_ROOT
from vae_helpers.errors import ConfigError

# Numbers that may appear in any notebook's prose without being printed, each with the reason.
# Keys are written as the prose writes them, without sign or thousands separators.
ALLOWED: dict[str, str] = {
    "784": "pixels in a 28x28 image (a constant of the data)",
    "255": "the largest 8-bit grey level (a constant of the data)",
    "2.303": "log 10 in nats (a constant)",
    "0.5": "the factor 1/2 of a Gaussian log density (an equation constant)",
    "128": "the batch size of every recipe (a setting, vae_helpers/config.py)",
    "95%": "the confidence level of every interval the course prints (a setting)",
}

# Numbers allowed in one notebook only (keyed by the notebook's file name), each with the reason.
ALLOWED_IN: dict[str, dict[str, str]] = {
    "02_elbo_and_kl.ipynb": {
        "4.5": "(e^2 - 1) / sqrt(2) = 4.52, the standard deviation of the log-ratio of q with log sigma = 1 (equation "
        "arithmetic)",
    },
    "04_reparameterization.ipynb": {
        "13.8": "log(1e-6), the log-variance of sigma = 1e-3 (an equation constant)",
        "87.3": "log of float32's smallest normal number, 1.18e-38 (a constant of the number format)",
        "453.75": "the exact single-sample variance of the score-function gradient for f(z) = (z - 3)^2, mu = 0, "
        "sigma = 0.5, derived in the expected answer of the prediction",
        "454": "that variance over the reparameterized one (exactly 1), rounded: the theory the measurement is read against",
    },
    "06_conv_vae.ipynb": {
        "0.01": "the active-unit threshold of Burda et al. 2016 (a setting)",
    },
    "10_celeba_faces.ipynb": {
        "178": "CelebA's published Align&Cropped image width (Liu et al. 2015)",
        "218": "CelebA's published Align&Cropped image height (Liu et al. 2015)",
        "12288": "3 x 64 x 64 colour values per image (a constant of the data)",
        "0.005": "0.01 / 2, the worked example of a squared error's cost at sigma = 1 (equation arithmetic)",
        "25.5": "0.1 x 255, the grey levels of sigma = 0.1 (equation arithmetic)",
        "0.02": "2 x 0.1^2, the effective beta of sigma = 0.1 (equation arithmetic of the SIGMA setting)",
        "162770": "the size of CelebA's official training partition (Liu et al. 2015)",
    },
}

_MINUS = "\u2212"
_THIN_SPACES = "\u2009\u202f\u00a0"

# A number: optional sign, digits with optional thousands separators (already unified to ","), optional
# decimals, optional exponent, optional percent sign or k/M. Not part of a word, a version string or a dotted path
# (a trailing x, as in 434x, is allowed).
_NUMBER = re.compile(
    r"(?<![\w.^_{])(?P<sign>-)?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?"
    r"(?:[eE](?P<exp>[-+]?\d+))?(?P<pct>\s?%)?(?:\s?(?P<mult>[kM])\b)?(?![^\Wx]|\.\d)"
)
_MULTIPLIERS = {None: 1.0, "k": 1e3, "M": 1e6}
_SECTION_WORDS = re.compile(r"(?:section|sections|§|chapter|notebook|notebooks|cell|cells|step|part)\s*$", re.I)


@dataclass(frozen=True)
class WrittenNumber:
    """One measured number found in a Markdown cell."""

    text: str  # as written, e.g. "105.6", "36.4%", "1,234"
    value: float  # absolute value, in the written unit (a percentage as 36.4, not 0.364; 1.7 for "1.7 M")
    decimals: int  # digits written after the point (0 for an integer)
    percent: bool
    multiplier: float  # 1e6 for "1.7 M", 1e3 for "12 k", else 1
    sentence: str


@dataclass(frozen=True)
class Finding:
    """A written number that no output of the notebook prints and no allow-list names."""

    notebook: str
    cell: int
    number: str
    sentence: str

    def __str__(self) -> str:
        return f"{self.notebook}, cell {self.cell}: {self.number} in {self.sentence!r}"


def _normalise(text: str) -> str:
    """Unify minus signs, thousands separators and LaTeX spacing so that one regex reads every number."""
    text = text.replace(_MINUS, "-")
    text = re.sub(r"(?<=\d)\\[,;:! ](?=\d{3})", ",", text)  # 60\,000
    text = re.sub(r"(?<=\d)\{,\}(?=\d)", ",", text)  # 60{,}000 and 0{,}5
    text = re.sub(rf"(?<=\d)[{_THIN_SPACES}](?=\d{{3}}\b)", ",", text)  # 60 000 with a thin space
    text = text.replace("\\%", "%")
    return text


def markdown_prose(source: str) -> str:
    """``source`` without what holds no measured number: code, link targets, HTML tags, section numbers."""
    text = re.sub(r"```.*?```", " ", source, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)  # inline code, also when it wraps a line
    text = re.sub(r"\]\([^)]*\)", "] ", text)  # link and image targets
    text = re.sub(r"<[^>\n]*>", " ", text)  # HTML tags and their attributes
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"^(#+)\s*[\d.]+\s", r"\1 ", text, flags=re.M)  # "## 6.1 Training" -> "## Training"
    return _normalise(text)


def _sentence_around(text: str, start: int, end: int) -> str:
    left = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start))
    right_candidates = [i for i in (text.find(". ", end), text.find("\n", end)) if i != -1]
    right = min(right_candidates) if right_candidates else len(text)
    return " ".join(text[left + 1 : right + 1].split())


def significant_digits(integer_digits: str) -> int:
    """Significant digits of an integer as written: ``"784"`` -> 3, ``"60000"`` -> 1, ``"0"`` -> 0."""
    return len(integer_digits.lstrip("0").rstrip("0"))


def written_numbers(source: str) -> list[WrittenNumber]:
    """The measured numbers of one Markdown cell, in order (see the module docstring for what counts)."""
    text = markdown_prose(source)
    found = []
    for match in _NUMBER.finditer(text):
        if match.group("exp"):
            continue  # 1e-3 in prose is a setting such as a learning rate
        digits = match.group("int").replace(",", "")
        frac = match.group("frac") or ""
        percent = bool(match.group("pct"))
        before = text[max(0, match.start() - 20) : match.start()]
        if _SECTION_WORDS.search(before) and not percent:
            continue
        if not frac and not percent:
            if "," not in match.group("int") and len(digits) == 4 and digits[:2] in ("19", "20"):
                continue  # a year, as citations write it
            if significant_digits(digits) < 3:
                continue
        written = match.group("int") + frac + ("%" if percent else "")
        found.append(
            WrittenNumber(
                text=written,
                value=abs(float(digits + frac)),
                decimals=len(frac) - 1 if frac else 0,
                percent=percent,
                multiplier=_MULTIPLIERS[match.group("mult")],
                sentence=_sentence_around(text, match.start(), match.end()),
            )
        )
    return found


@dataclass(frozen=True)
class PrintedNumber:
    value: float  # absolute value
    decimals: int  # effective digits after the point (negative for a printed 1.2e+03)


def _output_texts(cell: nbformat.NotebookNode):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            yield "".join(output.get("text", ""))
        for mime, value in output.get("data", {}).items():
            if mime in ("text/plain", "text/markdown", "text/html"):
                text = "".join(value) if isinstance(value, list) else str(value)
                if mime == "text/html":
                    text = re.sub(r"<[^>]*>", " ", text)
                yield text


def printed_numbers(nb: nbformat.NotebookNode) -> list[PrintedNumber]:
    """Every number that the notebook's outputs print (streams, text/plain, text/markdown, text/html)."""
    numbers = set()
    for cell in nb.cells:
        for text in _output_texts(cell):
            for match in _NUMBER.finditer(_normalise(text)):
                digits = match.group("int").replace(",", "")
                frac = match.group("frac") or ""
                exponent = int(match.group("exp") or 0)
                multiplier = _MULTIPLIERS[match.group("mult")]
                value = abs(float(digits + frac) * 10.0**exponent * multiplier)
                decimals = (len(frac) - 1 if frac else 0) - exponent - round(math.log10(multiplier))
                numbers.add(PrintedNumber(value, decimals))
    return sorted(numbers, key=lambda n: (n.value, n.decimals))


def _rounds_to(printed: float, printed_decimals: int, written: WrittenNumber, scale: float) -> bool:
    """Whether ``printed * scale``, shown with at least the written digits, rounds to the written number."""
    if printed_decimals - round(math.log10(scale)) < written.decimals:
        return False  # printed with fewer digits than the prose claims
    step = 10.0**-written.decimals
    return abs(printed * scale - written.value) <= step / 2 * (1 + 1e-9) + 1e-12


def is_printed(written: WrittenNumber, printed: list[PrintedNumber]) -> bool:
    """Whether some printed number rounds to ``written`` (a percentage may also be printed as a fraction)."""
    scales = (1.0 / written.multiplier, 100.0) if written.percent else (1.0 / written.multiplier,)
    return any(_rounds_to(p.value, p.decimals, written, scale) for p in printed for scale in scales)


def _allowed_key(written: WrittenNumber) -> str:
    return written.text.replace(",", "")


def check_notebook(nb: nbformat.NotebookNode, name: str) -> list[Finding]:
    """The measured numbers of ``nb``'s Markdown cells that its outputs do not print and no allow-list names."""
    printed = printed_numbers(nb)
    allowed = {**ALLOWED, **ALLOWED_IN.get(name, {})}
    findings = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for written in written_numbers(cell.source):
            if _allowed_key(written) in allowed or is_printed(written, printed):
                continue
            findings.append(Finding(name, index, written.text, written.sentence))
    return findings


def course_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """The solution notebooks ``notebooks/NN_*.ipynb`` (not the student versions)."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def check_paths(paths: list[Path]) -> list[Finding]:
    findings = []
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"{path}: no such notebook; pass paths such as notebooks/05_mlp_vae.ipynb")
        findings += check_notebook(nbformat.read(path, as_version=4), path.name)
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to check (default: notebooks/NN_*.ipynb)")
    args = parser.parse_args(argv)
    findings = check_paths(args.notebooks or course_notebooks())
    for finding in findings:
        print(finding)
    print(f"{len(findings)} number(s) in Markdown that no output prints")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
