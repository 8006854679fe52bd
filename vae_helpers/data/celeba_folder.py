"""Where CelebA is (a ``celeba/`` folder in the official layout, under one of the roots) and how to get it."""

from __future__ import annotations

from pathlib import Path

from .roots import search_roots

CELEBA_HOWTO = (
    "How to get CelebA: download 'Align&Cropped Images' (img_align_celeba.zip) plus list_attr_celeba.txt and "
    "list_eval_partition.txt from the official site https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
    "(Google Drive / Baidu links) or a well-known mirror such as the Kaggle dataset 'jessicali9530/celeba-dataset'. "
    "torchvision's CelebA(download=True) uses Google Drive and often fails with a quota or HTML-page error "
    "(torchvision issues #1920, #3708, #8501). Lay it out as <root>/celeba/img_align_celeba/000001.jpg ... plus "
    "<root>/celeba/list_attr_celeba.txt and <root>/celeba/list_eval_partition.txt, then set VAE_DATA_DIR=<root> "
    "or put it in the repo's data/. CelebA is for non-commercial research only."
)


def celeba_image_dir(folder: Path) -> Path:
    """``folder/img_align_celeba``, or the Kaggle mirror's nested ``img_align_celeba/img_align_celeba`` if only it has images."""
    images = Path(folder) / "img_align_celeba"
    nested = images / "img_align_celeba"
    if nested.is_dir() and not any(images.glob("*.jpg")):
        return nested
    return images


def layout_hint(folder: Path) -> str:
    """What is wrong with a ``celeba/`` folder that is not usable as it is (empty when nothing useful can be said)."""
    if not folder.is_dir():
        return ""
    hints = []
    if (folder / "list_attr_celeba.csv").is_file() and not (folder / "list_attr_celeba.txt").is_file():
        hints.append(
            "it holds the Kaggle mirror's CSV files: convert them with "
            f"`python -c \"from vae_helpers.data import celeba_txt_from_csv; celeba_txt_from_csv('{folder}')\"`"
        )
    if (folder / "img_align_celeba.zip").is_file() and not (folder / "img_align_celeba").is_dir():
        hints.append(f"img_align_celeba.zip is not extracted: `cd {folder} && unzip img_align_celeba.zip`")
    return "; ".join(hints)


def find_celeba_root() -> tuple[Path | None, list[str]]:
    """The first root's ``celeba/`` with ``img_align_celeba/`` and both annotation files (or None), and the places searched."""
    searched = []
    for label, root in search_roots():
        folder = root / "celeba"
        hint = layout_hint(folder)
        searched.append(
            f"{label}: {folder} (needs img_align_celeba/*.jpg, list_attr_celeba.txt, list_eval_partition.txt)"
            + (f" -- found but unusable: {hint}" if hint else "")
        )
        if (
            (folder / "list_attr_celeba.txt").is_file()
            and (folder / "list_eval_partition.txt").is_file()
            and (folder / "img_align_celeba").is_dir()
        ):
            return folder, searched
    return None, searched


def celeba_instructions() -> str:
    """Printable, multi-line instructions for getting CelebA and where to put it (the roots searched, in order)."""
    roots = search_roots()
    if not any(label == "$VAE_DATA_DIR" for label, _ in roots):
        roots.insert(0, ("$VAE_DATA_DIR", Path("<not set>")))
    places = "\n".join(f"     {i}. {label}: {root / 'celeba'}" for i, (label, root) in enumerate(roots, 1))
    return (
        "CelebA was not found. It is never downloaded automatically: it is large (1.4 GB of images) and licensed for\n"
        "non-commercial research only.\n"
        "1. Get it from the official site https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Google Drive or Baidu links:\n"
        "   'Align&Cropped Images' -> img_align_celeba.zip, and the annotation files list_attr_celeba.txt and\n"
        "   list_eval_partition.txt), or from the well-known Kaggle mirror 'jessicali9530/celeba-dataset'\n"
        "   (`kaggle datasets download -d jessicali9530/celeba-dataset`). The mirror nests the images one level deeper\n"
        "   (img_align_celeba/img_align_celeba/*.jpg: move them up one level) and ships the annotations as CSV: convert them\n"
        "   with `python -c \"from vae_helpers.data import celeba_txt_from_csv; celeba_txt_from_csv('<root>/celeba')\"`.\n"
        "   torchvision's CelebA(download=True) fetches from Google Drive and often fails with a quota or HTML-page error\n"
        "   (torchvision issues #1920, #3708, #8501), so download by hand.\n"
        "2. Lay it out as the official download (any number of images works; only the rows whose image is present are used):\n"
        "     <root>/celeba/img_align_celeba/000001.jpg, 000002.jpg, ...\n"
        "     <root>/celeba/list_attr_celeba.txt\n"
        "     <root>/celeba/list_eval_partition.txt\n"
        "   (list_bbox_celeba.txt and list_landmarks_align_celeba.txt are not needed.)\n"
        "3. Make <root>/celeba one of these folders, searched in this order:\n"
        f"{places}\n"
        "   e.g. `export VAE_DATA_DIR=/path/to/root` before starting Jupyter, or put celeba/ in the repo's data/.\n"
        "Licence: CelebA is available for non-commercial research purposes only; never commit its images, or weights\n"
        "trained on it, to a repository."
    )
