"""The printed score table lines up and carries the numbers it was given."""

from vae_helpers.quality import QualityScores, format_scores


def test_format_scores_one_aligned_row_per_set():
    scores = {
        "VAE": QualityScores(12.345, 0.9, 0.25, [0.1] * 10),
        "a much longer name": QualityScores(100.0, 0.5, 1.5, [0.1] * 10),
    }
    lines = format_scores(scores, first_column="image set").splitlines()
    assert len(lines) == 3 and lines[0].startswith("image set")
    assert len({len(line) for line in lines}) == 1  # aligned columns
    assert lines[1].split()[-3:] == ["12.35", "0.900", "0.250"]
    assert lines[2].startswith("a much longer name")
