"""The quality scores' names and default thresholds, importable without numpy or OpenCV (the
command line's options show them)."""

NAMES = ("blur", "pen", "fold", "bubble", "background")

# Set on synthetic slides whose artifacts are known (bench/patch_quality.py) and checked on
# real slides without artifacts, which they leave usable.
DEFAULT_THRESHOLDS = {
    "blur": 0.25,  # a quarter of the stained blocks soft
    "pen": 0.1,
    "fold": 0.2,
    "bubble": 0.01,  # a rim is thin: 1% of a patch is one crossing it
    "background": 0.8,
}
