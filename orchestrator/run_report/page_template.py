"""The QC page's style and script, inline so the page needs nothing but its pictures."""

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d1d1f; }
h1 { font-size: 1.4em; margin: 0; }
.where { color: #666; margin: .2em 0 1em; }
#summary { display: flex; flex-wrap: wrap; gap: .6em; margin-bottom: .6em; }
.fact { background: #f1f3f5; border-radius: 6px; padding: .4em .8em; }
.fact.failed { background: #fde2e1; } .fact.done { background: #e3f5e1; }
#filters { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: center;
  position: sticky; top: 0; background: #fff; padding: .6em 0; border-bottom: 1px solid #ddd; }
#few { width: 5em; }
#shown { color: #666; }
table { border-collapse: collapse; width: 100%; margin-top: .5em; }
th, td { border-bottom: 1px solid #e5e5e5; padding: .35em .5em; text-align: left;
  vertical-align: top; }
th[data-kind] { cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
td img { max-width: 220px; max-height: 160px; display: block; }
tr.failed .status { color: #b3261e; font-weight: 600; }
tr.skipped .status { color: #666; }
td.reason { max-width: 32em; }
.none { color: #999; }
"""

SCRIPT = """
(() => {
  const rows = Array.from(document.querySelectorAll('#slides tbody tr'));
  const show = document.getElementById('show');
  const few = document.getElementById('few');
  const name = document.getElementById('name');
  const shown = document.getElementById('shown');
  const empty = document.getElementById('empty');
  const wanted = {
    all: () => true,
    failed: (row) => row.dataset.status === 'failed',
    'no-tissue': (row) => row.dataset.noTissue === '1',
    'few-patches': (row) => row.dataset.patches !== '' &&
      Number(row.dataset.patches) < Number(few.value || 0),
    unusable: (row) => Number(row.dataset.unusable) > 0,
  };
  function apply() {
    const test = wanted[show.value] || wanted.all;
    const part = name.value.trim().toLowerCase();
    let count = 0;
    for (const row of rows) {
      row.hidden = !(test(row) && row.dataset.name.toLowerCase().includes(part));
      if (!row.hidden) count += 1;
    }
    shown.textContent = count + ' of ' + rows.length + ' slides';
    empty.hidden = count > 0;
    try {
      history.replaceState(null, '', show.value === 'all' ? ' ' : '#' + show.value);
    } catch (error) { /* an address that cannot change: the filter still works */ }
  }
  function sortBy(header) {
    const column = Array.from(header.parentNode.children).indexOf(header);
    const ascending = header.getAttribute('aria-sort') !== 'ascending';
    const numeric = header.dataset.kind === 'number';
    const key = (row) => {
      const cell = row.children[column];
      return numeric ? cell.dataset.value : cell.textContent.trim().toLowerCase();
    };
    rows.sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      if (x === '' || y === '') return (x === '') - (y === '');  // blanks last
      const order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return ascending ? order : -order;
    });
    for (const other of header.parentNode.children) other.removeAttribute('aria-sort');
    header.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    const body = rows[0] ? rows[0].parentNode : null;
    if (body) for (const row of rows) body.appendChild(row);
  }
  document.querySelectorAll('th[data-kind]').forEach((header) =>
    header.addEventListener('click', () => sortBy(header)));
  for (const control of [show, few, name]) control.addEventListener('input', apply);
  const asked = decodeURIComponent(location.hash.slice(1));
  if (asked in wanted) show.value = asked;
  apply();
})();
"""
