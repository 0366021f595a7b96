#!/bin/sh
# The orchestrator image's venv, pruned of what a batch job never runs (the image is built from
# a copy of it, so what goes here never reaches the image):
# - pip, setuptools and wheel: nothing is installed into a job's image afterwards;
# - the test suites packages ship;
# - imagecodecs' codecs but the JPEG ones (slides' tiles are JPEG; tifffile reads the TIFF
#   structure itself), with the libraries only they load.
set -eu
venv=${1:-/opt/venv}
site=$(echo "$venv"/lib/python3*/site-packages)
"$venv/bin/python" -m pip uninstall --yes --quiet pip setuptools wheel
find "$site" -depth -type d -name tests -exec rm -rf {} +
codecs="$site/imagecodecs"
keep="_shared _shared_cython _imcd _jpeg8 _ljpeg _jpegsof3"
for module in "$codecs"/_*.so; do
    name=$(basename "$module" | cut -d. -f1)
    case " $keep " in *" $name "*) ;; *) rm -f "$module" ;; esac
done
# The bundled libraries the kept codecs link to; the others go.
needed=$(for name in $keep; do ldd "$codecs/$name".*.so 2>/dev/null; done \
    | grep -o 'imagecodecs.libs/[^ ]*' | xargs -r -n1 basename | sort -u)
for library in "$site"/imagecodecs.libs/*; do
    echo "$needed" | grep -qx "$(basename "$library")" || rm -f "$library"
done
