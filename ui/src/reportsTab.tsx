import { useEffect, useState } from 'preact/hooks';
import { adminApi, errorText, getJson, type SessionInfo } from './api';
import { ErrorMessage } from './components';
import { csvCell, encodeReason, formatTime } from './format';

/** SPEC §15 answers, as the console reads them. */
interface Bucket {
  start: string;
  reveals: number;
  revealsDenied: number;
  activitiesShown: number;
  resolutions: number;
  groupChanges: number;
  permissionChanges: number;
  requests: { created: number; approved: number; denied: number; expired: number; revoked: number };
}
interface Summary {
  buckets: Bucket[];
  byViewer: { principal: string; reveals: number; activitiesShown: number }[];
}
interface View {
  time: string;
  reason?: string;
  scope?: { groups: string[]; actors: string[] };
  revealRequest?: string;
  activities: number;
  viewer?: string;
}
interface SubjectReport {
  principal: string;
  since?: string;
  until?: string;
  views: View[];
  resolutions: { time: string; action: string; reason?: string; viewer?: string }[];
  entriesWithoutActors: number;
}

type BucketKind = 'day' | 'week' | 'month';

const bucketLabel = (start: string, kind: BucketKind): string =>
  kind === 'month' ? start.slice(0, 7) : kind === 'week' ? `week of ${start.slice(0, 10)}` : start.slice(0, 10);

const scopeText = (s: View['scope']): string => (s ? [...s.groups.map((g) => `group:${g}`), ...s.actors.map((a) => `actor:${a}`)].join(', ') : '');

/**
 * The summary as a grouped bar chart in plain SVG: per bucket a bar for reveals and one for
 * activities shown, on one scale, each with its number written above it. role="img" with a
 * title and a description; the table beside it holds the same numbers for every reader.
 */
function SummaryChart(props: { buckets: Bucket[]; kind: BucketKind }) {
  const { buckets, kind } = props;
  const max = Math.max(1, ...buckets.map((b) => Math.max(b.reveals, b.activitiesShown)));
  const group = 64;
  const bar = 22;
  const top = 24;
  const height = 180;
  const bottom = 36;
  const left = 8;
  const width = left * 2 + Math.max(1, buckets.length) * group;
  const y = (v: number) => top + height - (v / max) * height;
  const total = (k: 'reveals' | 'activitiesShown') => buckets.reduce((n, b) => n + b[k], 0);
  return (
    <figure class="chart">
      <svg
        role="img"
        aria-labelledby="summary-chart-title summary-chart-desc"
        viewBox={`0 0 ${width} ${top + height + bottom}`}
        width={width}
        height={top + height + bottom}
        class="bars"
      >
        <title id="summary-chart-title">Reveals and activities shown per {kind}</title>
        <desc id="summary-chart-desc">
          {buckets.length === 0
            ? 'No events in this period.'
            : `${buckets.length} ${kind}s with events, ${total('reveals')} reveals and ${total('activitiesShown')} private activities shown in all. ` +
              buckets.map((b) => `${bucketLabel(b.start, kind)}: ${b.reveals} reveals, ${b.activitiesShown} activities shown`).join('; ') +
              '.'}
        </desc>
        <line x1={left} x2={width - left} y1={top + height} y2={top + height} class="axis" />
        {buckets.map((b, i) => {
          const x = left + i * group + (group - 2 * bar - 4) / 2;
          return (
            <g key={b.start} data-bucket={b.start}>
              <rect class="reveals" x={x} y={y(b.reveals)} width={bar} height={top + height - y(b.reveals)} data-value={b.reveals} />
              <text x={x + bar / 2} y={y(b.reveals) - 4} text-anchor="middle">
                {b.reveals}
              </text>
              <rect
                class="shown"
                x={x + bar + 4}
                y={y(b.activitiesShown)}
                width={bar}
                height={top + height - y(b.activitiesShown)}
                data-value={b.activitiesShown}
              />
              <text x={x + bar + 4 + bar / 2} y={y(b.activitiesShown) - 4} text-anchor="middle">
                {b.activitiesShown}
              </text>
              <text x={left + i * group + group / 2} y={top + height + 16} text-anchor="middle" class="label">
                {kind === 'month' ? b.start.slice(0, 7) : b.start.slice(5, 10)}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption class="legend">
        <span class="key reveals" aria-hidden="true" /> Reveals <span class="key shown" aria-hidden="true" /> Activities shown
      </figcaption>
    </figure>
  );
}

function SummarySection() {
  const [kind, setKind] = useState<BucketKind>('month');
  const [summary, setSummary] = useState<Summary | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setError(null);
    getJson<Summary>(adminApi(`reports/summary?bucket=${kind}`))
      .then(setSummary)
      .catch((err: unknown) => setError(errorText(err)));
  }, [kind]);
  return (
    <section aria-labelledby="summary-heading" class="report-summary">
      <div class="toolbar">
        <h2 id="summary-heading">How the power to reveal was used</h2>
        <label class="inline">
          Period
          <select value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value as BucketKind)}>
            <option value="day">Day</option>
            <option value="week">Week</option>
            <option value="month">Month</option>
          </select>
        </label>
      </div>
      <ErrorMessage text={error} />
      {summary && (
        <div class="chart-and-table">
          <SummaryChart buckets={summary.buckets} kind={kind} />
          <div class="table-wrap">
            <table>
              <caption class="sr-only">Summary per {kind}</caption>
              <thead>
                <tr>
                  <th scope="col">{kind === 'month' ? 'Month' : kind === 'week' ? 'Week' : 'Day'}</th>
                  <th scope="col">Reveals</th>
                  <th scope="col">Refused</th>
                  <th scope="col">Activities shown</th>
                  <th scope="col">Resolutions</th>
                  <th scope="col">Group changes</th>
                  <th scope="col">Permission changes</th>
                  <th scope="col">Requests (created / approved / denied / expired / revoked)</th>
                </tr>
              </thead>
              <tbody>
                {summary.buckets.map((b) => (
                  <tr key={b.start}>
                    <th scope="row">{bucketLabel(b.start, kind)}</th>
                    <td>{b.reveals}</td>
                    <td>{b.revealsDenied}</td>
                    <td>{b.activitiesShown}</td>
                    <td>{b.resolutions}</td>
                    <td>{b.groupChanges}</td>
                    <td>{b.permissionChanges}</td>
                    <td>{`${b.requests.created} / ${b.requests.approved} / ${b.requests.denied} / ${b.requests.expired} / ${b.requests.revoked}`}</td>
                  </tr>
                ))}
                {summary.buckets.length === 0 && (
                  <tr>
                    <td colSpan={8}>No events.</td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <div class="table-wrap">
            <table>
              <caption>By viewer</caption>
              <thead>
                <tr>
                  <th scope="col">Viewer</th>
                  <th scope="col">Reveals</th>
                  <th scope="col">Activities shown</th>
                </tr>
              </thead>
              <tbody>
                {summary.byViewer.map((v) => (
                  <tr key={v.principal}>
                    <th scope="row">{v.principal}</th>
                    <td>{v.reveals}</td>
                    <td>{v.activitiesShown}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </section>
  );
}

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The same columns as `format=csv` (SPEC §15), from the report already made: no second report. */
function reportCsv(r: SubjectReport, viewers: boolean): string {
  const head = ['time', 'reason', 'scope', 'revealRequest', 'activities', ...(viewers ? ['viewer'] : [])];
  const rows = r.views.map((v) => [v.time, v.reason, scopeText(v.scope), v.revealRequest, v.activities, ...(viewers ? [v.viewer] : [])].map(csvCell).join(','));
  return [head.join(','), ...rows].join('\r\n') + '\r\n';
}

function SubjectSection(props: { session: SessionInfo }) {
  const [upn, setUpn] = useState('');
  const [reason, setReason] = useState('');
  const [viewers, setViewers] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [report, setReport] = useState<{ data: SubjectReport; viewers: boolean; createdAt: string; by: string } | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const q = new URLSearchParams({ principal: upn.trim() });
      if (viewers) q.set('includeViewers', 'true');
      const data = await getJson<SubjectReport>(adminApi(`reports/subject?${q.toString()}`), {
        [props.session.reveal.reasonHeader]: encodeReason(reason.trim()),
      });
      setReport({ data, viewers, createdAt: new Date().toISOString(), by: props.session.principal });
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="subject-heading" class="subject">
      <h2 id="subject-heading">Subject report</h2>
      <p class="hint">
        Who saw a person's private activities, when and why (GDPR art. 15). Creating a report is itself recorded in the governance log, with your reason.
      </p>
      <form onSubmit={create} class="filters">
        <label>
          UPN
          <input type="text" value={upn} required autoComplete="off" onInput={(e) => setUpn((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Reason
          <input
            type="text"
            value={reason}
            required
            minLength={props.session.reveal.minReasonLength}
            onInput={(e) => setReason((e.target as HTMLInputElement).value)}
          />
        </label>
        <label class="check">
          <input type="checkbox" checked={viewers} onChange={(e) => setViewers((e.target as HTMLInputElement).checked)} />
          Include viewers
        </label>
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Create report
          </button>
        </div>
      </form>
      <ErrorMessage text={error} />
      {report && (
        <article class="report-page" aria-labelledby="report-title">
          <header>
            <h2 id="report-title">Who saw the private activities of {report.data.principal}</h2>
            <p>
              Period: {report.data.since ? formatTime(report.data.since) : 'the whole governance log'} –{' '}
              {report.data.until ? formatTime(report.data.until) : 'now'}. Created {formatTime(report.createdAt)} by {report.by}.
            </p>
          </header>
          <div class="buttons no-print">
            <button type="button" onClick={() => download(`subject-report-${report.data.principal}.csv`, reportCsv(report.data, report.viewers))}>
              Download CSV
            </button>
            <button type="button" onClick={() => window.print()}>
              Print
            </button>
          </div>
          <h3>Views</h3>
          {report.data.views.length === 0 ? (
            <p>No reveal showed private activities of this person.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Reason</th>
                    <th scope="col">Scope</th>
                    <th scope="col">Reveal request</th>
                    <th scope="col">Activities</th>
                    {report.viewers && <th scope="col">Viewer</th>}
                  </tr>
                </thead>
                <tbody>
                  {report.data.views.map((v, i) => (
                    <tr key={i}>
                      <td class="time">{formatTime(v.time)}</td>
                      <td>{v.reason ?? ''}</td>
                      <td>{scopeText(v.scope)}</td>
                      <td>{v.revealRequest ? <code>{v.revealRequest}</code> : ''}</td>
                      <td>{v.activities}</td>
                      {report.viewers && <td>{v.viewer ?? ''}</td>}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <h3>Re-identifications</h3>
          {report.data.resolutions.length === 0 ? (
            <p>None.</p>
          ) : (
            <ul>
              {report.data.resolutions.map((r, i) => (
                <li key={i}>
                  {formatTime(r.time)}: {r.action}
                  {r.reason ? ` — ${r.reason}` : ''}
                  {r.viewer ? ` (${r.viewer})` : ''}
                </li>
              ))}
            </ul>
          )}
          {report.data.entriesWithoutActors > 0 && (
            <p class="notice">
              {report.data.entriesWithoutActors} earlier reveals were recorded before the log named whose activities were shown; they cannot be attributed to
              anyone and are not listed.
            </p>
          )}
        </article>
      )}
    </section>
  );
}

/** Tab "Reports" (SPEC §15): the summary as a chart and a table, and the subject report. */
export function ReportsTab(props: { session: SessionInfo }) {
  return (
    <>
      <SummarySection />
      <SubjectSection session={props.session} />
    </>
  );
}
