"""What the encoder reads for a passage: shared by the pipeline, the gate and the classifiers' training.

It sits with the encoder, below the classifiers, so the classifiers never import the reading stage.
"""

from __future__ import annotations


def model_input(text: str, heading: str = "") -> str:
    """What the encoder reads for a passage: the passage under its heading, as a reader sees it.

    The tuned classifiers were trained this way (classifiers/training/finetune.py); a text that already starts
    with its heading is left as it is.
    """
    heading = " ".join(heading.split())
    if heading and not text.lstrip().startswith(heading):
        return f"{heading}\n{text}"
    return text
