/**
 * The HTML report: one self-contained page (inline CSS and script, no network resources) with the
 * per-trial counts, a funnel per trial (and cohort) showing how many patients each criterion
 * removes, and a sortable patient table with a per-criterion drill-down.
 *
 * It is written as results come: the page's head carries the trial definitions and the script, then
 * every patient is one `<script type="application/json" class="row">` line, and the page renders
 * them when it has loaded. A report cut short (interrupted run) still opens and shows every patient
 * written so far, marked as partial; a finished one ends with a `complete` marker.
 */
import type { CriterionResultValue } from '../domain/screening.js';
import type { PopulationResult, ReportContext, ReportWriter } from './population-item.js';

const LETTER: Record<CriterionResultValue, string> = {
  pass: 'P',
  fail: 'F',
  unknown: 'U',
  manual: 'M',
};

/** JSON that is safe inside a `<script>` element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
}

const STYLE = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:14px;margin:16px 0 6px}
.summary{color:#444}.partial{color:#9a3412;font-weight:600}.complete{color:#166534}
table{border-collapse:collapse;margin:4px 0}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num,th.num{text-align:right}
#patients th{cursor:pointer;user-select:none}#patients th[aria-sort=ascending]::after{content:" \\25B2"}#patients th[aria-sort=descending]::after{content:" \\25BC"}
.eligible{background:#dcfce7}.needs-review{background:#fef9c3}.ineligible{background:#fee2e2}.error{background:#fde68a}
.pass{color:#166534}.fail{color:#b91c1c;font-weight:600}.unknown{color:#92400e}.manual{color:#555}
.funnel td.bar{width:260px}.funnel .fill{background:#60a5fa;height:10px}
button.more{margin:8px 0;font:inherit}button.toggle{font:inherit;border:1px solid #aaa;background:#fff;border-radius:3px;padding:0 6px;margin-right:6px;cursor:pointer}
tr.detail>td{background:#fafafa}.evidence{color:#555;font-size:12px}
`;

/* The page's script: plain ES2017, no dependencies. */
const SCRIPT = String.raw`
(function () {
  'use strict';
  var RESULT = { P: 'pass', F: 'fail', U: 'unknown', M: 'manual' };
  var RANK = { eligible: 0, 'needs-review': 1, ineligible: 2 };
  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === 'text') node.textContent = props[k];
      else if (k === 'className') node.className = props[k];
      else node.setAttribute(k, props[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function render() {
    var meta = JSON.parse(document.getElementById('meta').textContent);
    var rows = Array.prototype.map.call(document.querySelectorAll('script.row'), function (s) {
      return JSON.parse(s.textContent);
    });
    var marker = document.getElementById('complete');
    var screened = rows.filter(function (r) { return !r.err; });
    var failed = rows.length - screened.length;
    document.getElementById('summary').appendChild(el('p', { className: 'summary' }, [
      el('span', { text: 'As of ' + meta.asOf + ': ' + screened.length + ' patients screened, ' +
        failed + ' inputs failed. ' }),
      marker
        ? el('span', { className: 'complete', text: 'Complete report.' })
        : el('span', { className: 'partial', text: 'Partial report: the run was interrupted or is still running.' }),
    ]));

    // Per-trial counts
    var counts = el('table', { id: 'counts' }, [el('thead', {}, [el('tr', {}, [
      el('th', { text: 'Trial' }), el('th', { text: 'Title' }), el('th', { className: 'num', text: 'Eligible' }),
      el('th', { className: 'num', text: 'Needs review' }), el('th', { className: 'num', text: 'Ineligible' }),
    ])])]);
    var countBody = el('tbody');
    meta.trials.forEach(function (trial, t) {
      var n = { eligible: 0, 'needs-review': 0, ineligible: 0 };
      screened.forEach(function (r) { n[r.t[t].st]++; });
      countBody.appendChild(el('tr', { 'data-trial': trial.id }, [
        el('td', { text: trial.id }), el('td', { text: trial.title }),
        el('td', { className: 'num eligible', text: String(n.eligible) }),
        el('td', { className: 'num needs-review', text: String(n['needs-review']) }),
        el('td', { className: 'num ineligible', text: String(n.ineligible) }),
      ]));
    });
    counts.appendChild(countBody);
    document.getElementById('counts-section').appendChild(counts);

    // Funnel: criteria in order, each removing the patients it fails among those still in.
    var funnel = document.getElementById('funnel-section');
    meta.trials.forEach(function (trial, t) {
      var cohorts = trial.cohorts.length > 1 ? trial.cohorts : [null];
      cohorts.forEach(function (cohort) {
        var remaining = screened.slice();
        var table = el('table', { className: 'funnel', 'data-trial': trial.id, 'data-cohort': cohort || '' }, [
          el('thead', {}, [el('tr', {}, [el('th', { text: 'Criterion' }), el('th', { className: 'num', text: 'Removes' }),
            el('th', { className: 'num', text: 'Remaining' }), el('th', { className: 'num', text: 'Unknown' }), el('th', { text: '' })])]),
        ]);
        var body = el('tbody');
        body.appendChild(el('tr', {}, [el('td', { text: 'Screened' }), el('td', { className: 'num', text: '' }),
          el('td', { className: 'num', text: String(remaining.length) }), el('td', { className: 'num', text: '' }),
          el('td', { className: 'bar' }, [el('div', { className: 'fill', style: 'width:100%' })])]));
        trial.criteria.forEach(function (c, i) {
          if (c.manual || (cohort !== null && c.cohort && c.cohort !== cohort)) return;
          var kept = remaining.filter(function (r) { return r.t[t].r.charAt(i) !== 'F'; });
          var unknown = kept.filter(function (r) { return r.t[t].r.charAt(i) === 'U'; }).length;
          var removed = remaining.length - kept.length;
          remaining = kept;
          var share = screened.length ? Math.round((100 * remaining.length) / screened.length) : 0;
          body.appendChild(el('tr', { 'data-criterion': c.id }, [
            el('td', { title: c.text, text: (c.cohort ? '[' + c.cohort + '] ' : '') + c.id }),
            el('td', { className: 'num removes', text: String(removed) }),
            el('td', { className: 'num', text: String(remaining.length) }),
            el('td', { className: 'num', text: String(unknown) }),
            el('td', { className: 'bar' }, [el('div', { className: 'fill', style: 'width:' + share + '%' })]),
          ]));
        });
        table.appendChild(body);
        funnel.appendChild(el('h3', { text: trial.id + (cohort ? ' (' + cohort + ' cohort)' : '') + ': ' + trial.title }));
        funnel.appendChild(table);
      });
    });

    // Patients: sortable, with a per-criterion drill-down.
    var columns = [
      { label: 'Source', key: function (r) { return r.s; } },
      { label: 'Patient', key: function (r) { return r.p || ''; } },
    ].concat(meta.trials.map(function (trial, t) {
      return { label: trial.id, title: trial.title, key: function (r) { return r.err ? 9 : RANK[r.t[t].st]; } };
    }));
    var sort = { column: -1, dir: 1 };
    var order = rows.map(function (_, i) { return i; });
    var headRow = el('tr');
    var tbody = el('tbody');
    columns.forEach(function (col, c) {
      var th = el('th', { scope: 'col', text: col.label, title: col.title || 'Sort by ' + col.label });
      th.addEventListener('click', function () {
        sort = { column: c, dir: sort.column === c ? -sort.dir : 1 };
        order.sort(function (a, b) {
          var x = col.key(rows[a]), y = col.key(rows[b]);
          return (x < y ? -1 : x > y ? 1 : a - b) * sort.dir;
        });
        Array.prototype.forEach.call(headRow.children, function (h, i) {
          if (i === c) h.setAttribute('aria-sort', sort.dir > 0 ? 'ascending' : 'descending');
          else h.removeAttribute('aria-sort');
        });
        fill();
      });
      headRow.appendChild(th);
    });
    function detail(r) {
      var cell = el('td', { colspan: String(columns.length) });
      meta.trials.forEach(function (trial, t) {
        var result = r.t[t];
        cell.appendChild(el('h4', { text: trial.id + ': ' + result.st, className: result.st }));
        var body = el('tbody');
        trial.criteria.forEach(function (c, i) {
          var value = RESULT[result.r.charAt(i)] || '';
          var ev = (result.ev && result.ev[i]) || [];
          body.appendChild(el('tr', { 'data-criterion': c.id }, [
            el('td', { text: c.cohort || '' }), el('td', { text: c.kind }), el('td', { text: c.text }),
            el('td', { className: 'result ' + value, text: value }),
            el('td', { className: 'evidence', text: ev.join(', ') }),
          ]));
        });
        cell.appendChild(el('table', { className: 'criteria' }, [el('thead', {}, [el('tr', {}, [
          el('th', { text: 'Cohort' }), el('th', { text: 'Kind' }), el('th', { text: 'Criterion' }),
          el('th', { text: 'Result' }), el('th', { text: 'Evidence (failed)' })])]), body]));
      });
      return el('tr', { className: 'detail' }, [cell]);
    }
    // Rows are built once; sorting moves them (with an open drill-down under its row).
    var built = rows.map(function (r) {
      var toggle = el('button', { className: 'toggle', 'aria-expanded': 'false', text: '+', title: 'Show criteria' });
      var tr = el('tr', { className: 'patient', 'data-source': r.s }, [
        el('td', {}, [r.err ? null : toggle, document.createTextNode(r.s)]),
        el('td', { text: r.p || '' }),
      ]);
      var entry = { tr: tr, open: null };
      if (r.err) {
        tr.appendChild(el('td', { className: 'error', colspan: String(meta.trials.length), text: 'Input failed: ' + r.err }));
      } else {
        meta.trials.forEach(function (_, t) {
          tr.appendChild(el('td', { className: 'status ' + r.t[t].st, text: r.t[t].st }));
        });
        toggle.addEventListener('click', function () {
          if (entry.open) { entry.open.remove(); entry.open = null; toggle.setAttribute('aria-expanded', 'false'); toggle.textContent = '+'; return; }
          entry.open = detail(r);
          tr.after(entry.open);
          toggle.setAttribute('aria-expanded', 'true');
          toggle.textContent = '\u2212';
        });
      }
      return entry;
    });
    // Large populations: the first rows in the current order, more on request (layout of a table
    // of thousands of rows takes seconds).
    var PAGE = 500;
    var shown = PAGE;
    var more = el('button', { className: 'more' });
    more.addEventListener('click', function () { shown += PAGE; fill(); });
    function fill() {
      var fragment = document.createDocumentFragment();
      order.slice(0, shown).forEach(function (i) {
        fragment.appendChild(built[i].tr);
        if (built[i].open) fragment.appendChild(built[i].open);
      });
      tbody.textContent = '';
      tbody.appendChild(fragment);
      more.textContent = 'Show ' + Math.min(PAGE, rows.length - shown) + ' more of ' + rows.length + ' patients';
      more.hidden = shown >= rows.length;
    }
    fill();
    document.getElementById('patients-section').appendChild(
      el('table', { id: 'patients' }, [el('thead', {}, [headRow]), tbody]));
    document.getElementById('patients-section').appendChild(more);
  }
  document.addEventListener('DOMContentLoaded', render);
})();
`;

/**
 * Starts an HTML report: the head (style, trial definitions, script) is written at once.
 * @param context - evaluation date, trial definitions and the sink.
 */
export function createHtmlReportWriter({ asOf, trials, sink }: ReportContext): ReportWriter {
  const meta = {
    asOf,
    trials: trials.map((trial) => ({
      id: trial.id,
      title: trial.title,
      cohorts: trial.cohorts.map((c) => c.id),
      criteria: trial.criteria.map((c) => ({
        id: c.id,
        ...(c.cohort !== undefined ? { cohort: c.cohort } : {}),
        kind: c.kind,
        text: c.text,
        manual: c.define === undefined,
      })),
    })),
  };
  const keys = trials.map((trial) => trial.criteria.map((c) => `${c.cohort ?? ''}/${c.id}`));
  sink(
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
      `<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
      `<title>Trial pre-screening report</title>\n<style>${STYLE}</style>\n` +
      `<script type="application/json" id="meta">${scriptJson(meta)}</script>\n` +
      `<script>${SCRIPT}</script>\n</head>\n<body>\n<h1>Trial pre-screening report</h1>\n` +
      `<div id="summary"></div>\n` +
      `<h2>Per-trial counts</h2>\n<div id="counts-section"></div>\n` +
      `<h2>Funnel: patients each criterion removes</h2>\n` +
      `<p class="summary">Criteria in the trial's order; each row counts the patients it fails among those no earlier criterion removed. Unknown results do not remove anyone.</p>\n` +
      `<div id="funnel-section"></div>\n` +
      `<h2>Patients</h2>\n<p class="summary">Click a column header to sort (all patients are sorted; the first 500 are shown, more on request); + shows every criterion.</p>\n` +
      `<div id="patients-section"></div>\n`,
  );
  return {
    write(result: PopulationResult) {
      let row: unknown;
      if (result.kind === 'failure') {
        row = {
          s: result.source,
          ...(result.patientId !== undefined ? { p: result.patientId } : {}),
          err: result.message,
        };
      } else {
        const { source, patientId } = result.patient;
        row = {
          s: source,
          p: patientId,
          t: trials.map((trial, t) => {
            const found = result.patient.trials.find((r) => r.id === trial.id);
            const byKey = new Map(found?.criteria.map((c) => [`${c.cohort ?? ''}/${c.id}`, c]));
            const ev: Record<number, readonly string[]> = {};
            const letters = (keys[t] ?? []).map((key, i) => {
              const criterion = byKey.get(key);
              if (criterion?.result === 'fail' && criterion.evidence.length > 0)
                ev[i] = criterion.evidence;
              return criterion === undefined ? '-' : LETTER[criterion.result];
            });
            return {
              st: found?.status ?? 'ineligible',
              r: letters.join(''),
              ...(Object.keys(ev).length > 0 ? { ev } : {}),
            };
          }),
        };
      }
      sink(`<script type="application/json" class="row">${scriptJson(row)}</script>\n`);
    },
    finish(summary) {
      if (!summary.interrupted)
        sink(`<script type="application/json" id="complete">${scriptJson(summary)}</script>\n`);
      sink('</body>\n</html>\n');
    },
  };
}
