// The SVG plot of the offered-load sweep: p99 latency and goodput against offered load, one
// line per contender. Written by hand (about a hundred lines of SVG) rather than with a
// plotting package: two small line charts do not justify a charting dependency and its
// headless-browser or canvas requirements.
import type { ContenderId, SweepSeries } from './results.js';
import { okPerSec } from './targets.js';

interface Series {
  readonly name: string;
  readonly color: string;
  readonly dashed: boolean;
  readonly points: readonly (readonly [number, number])[];
}

interface Panel {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly yLog: boolean;
  readonly series: readonly Series[];
}

const COLORS: Record<ContenderId, string> = {
  service: '#1f77b4',
  'service-cached': '#17becf',
  'service-canaries': '#9467bd',
  koa: '#8c564b',
  bare: '#2ca02c',
  peer: '#ff7f0e',
};
const NAMES: Record<ContenderId, string> = {
  service: 'this service',
  'service-cached': 'this service (cache on)',
  'service-canaries': 'this service (canaries every 100 ms)',
  koa: 'Koa + @koa/router',
  bare: 'bare node:http',
  peer: 'fasttext.js example server',
};

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Ticks at 1, 2, 5 x 10^n covering [min, max]. */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

export function linearTicks(max: number, count = 5): number[] {
  if (max <= 0) return [0];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let v = 0; v <= max * 1.0001; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  return ticks;
}

function tickLabel(v: number): string {
  if (v >= 1000) return `${Number((v / 1000).toFixed(v >= 10_000 ? 0 : 1))}k`;
  if (v >= 1) return String(Number(v.toFixed(1)));
  return String(Number(v.toPrecision(2)));
}

function panel(p: Panel, xMin: number, xMax: number): string {
  const all = p.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && x > 0 && (!p.yLog || y > 0));
  const out: string[] = [];
  out.push(
    `<text x="${p.left + p.width / 2}" y="${p.top - 12}" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(p.title)}</text>`,
  );
  out.push(`<rect x="${p.left}" y="${p.top}" width="${p.width}" height="${p.height}" fill="none" stroke="#999"/>`);
  const yValues = all.map(([, y]) => y);
  const yMaxData = yValues.length > 0 ? Math.max(...yValues) : 1;
  const yMinData = yValues.length > 0 ? Math.min(...yValues) : 1;
  const yTicks = p.yLog ? logTicks(Math.max(1e-3, yMinData * 0.8), yMaxData * 1.25) : linearTicks(yMaxData * 1.1);
  const yLo = p.yLog ? Math.min(yTicks[0] ?? yMinData, yMinData * 0.8) : 0;
  const yHi = Math.max(yTicks[yTicks.length - 1] ?? yMaxData, yMaxData * (p.yLog ? 1.25 : 1.1));
  const sx = (x: number): number =>
    p.left + ((Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * p.width;
  const sy = (y: number): number =>
    p.yLog
      ? p.top + p.height - ((Math.log10(y) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * p.height
      : p.top + p.height - ((y - yLo) / (yHi - yLo)) * p.height;
  for (const t of logTicks(xMin, xMax)) {
    const x = sx(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${p.top}" x2="${x}" y2="${p.top + p.height}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${p.top + p.height + 16}" text-anchor="middle" font-size="11">${tickLabel(t)}</text>`);
  }
  for (const t of yTicks) {
    if (t < yLo || t > yHi) continue;
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${p.left}" y1="${y}" x2="${p.left + p.width}" y2="${y}" stroke="#eee"/>`);
    out.push(
      `<text x="${p.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11">${tickLabel(t)}</text>`,
    );
  }
  out.push(
    `<text x="${p.left + p.width / 2}" y="${p.top + p.height + 36}" text-anchor="middle" font-size="12">${escapeXml(p.xLabel)}</text>`,
  );
  out.push(
    `<text transform="translate(${p.left - 48},${p.top + p.height / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(p.yLabel)}</text>`,
  );
  for (const s of p.series) {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && x > 0 && (!p.yLog || y > 0));
    if (pts.length === 0) continue;
    const d = pts.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6,4"' : ''}/>`,
    );
    for (const [x, y] of pts)
      out.push(
        `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${s.color}"><title>${escapeXml(`${s.name}: ${tickLabel(x)} offered → ${y.toFixed(y < 10 ? 2 : 0)}`)}</title></circle>`,
      );
  }
  return out.join('\n');
}

/** Two panels side by side; `subtitle` says what the axes mean in this run. */
export function renderSweepSvg(sweep: readonly SweepSeries[], subtitle: string): string {
  const width = 1000;
  const height = 470;
  const xs = sweep.flatMap((s) => s.points.map((p) => p.run.rateCap ?? 0)).filter((x) => x > 0);
  const xMin = xs.length > 0 ? Math.min(...xs) * 0.8 : 1;
  const xMax = xs.length > 0 ? Math.max(...xs) * 1.25 : 10;
  const latency: Series[] = sweep.map((s) => ({
    name: NAMES[s.contender],
    color: COLORS[s.contender],
    dashed: false,
    points: s.points.map((p) => [p.run.rateCap ?? 0, p.run.ok.count > 0 ? p.run.ok.p99 : Number.NaN] as const),
  }));
  const goodput: Series[] = sweep.flatMap((s) => {
    const good: Series = {
      name: `${NAMES[s.contender]}: goodput`,
      color: COLORS[s.contender],
      dashed: false,
      points: s.points.map((p) => [p.run.rateCap ?? 0, okPerSec(p.run)] as const),
    };
    const shed = s.points.some((p) => p.run.shed.count > 0)
      ? [
          {
            name: `${NAMES[s.contender]}: shed (503/s)`,
            color: COLORS[s.contender],
            dashed: true,
            points: s.points.map((p) => [p.run.rateCap ?? 0, p.run.shed.count / p.run.elapsedS] as const),
          },
        ]
      : [];
    return [good, ...shed];
  });
  const top = 80;
  const panelHeight = 300;
  const left = panel(
    {
      left: 80,
      top,
      width: 380,
      height: panelHeight,
      title: 'p99 latency of 2xx responses',
      xLabel: 'offered load, requests/s (log)',
      yLabel: 'ms (log)',
      yLog: true,
      series: latency,
    },
    xMin,
    xMax,
  );
  const right = panel(
    {
      left: 590,
      top,
      width: 380,
      height: panelHeight,
      title: 'goodput (2xx/s); dashed: shed 503/s',
      xLabel: 'offered load, requests/s (log)',
      yLabel: 'responses/s',
      yLog: false,
      series: goodput,
    },
    xMin,
    xMax,
  );
  const legend = sweep
    .map(
      (s, i) =>
        `<rect x="${80 + i * 260}" y="${height - 30}" width="14" height="14" fill="${COLORS[s.contender]}"/><text x="${100 + i * 260}" y="${height - 18}" font-size="13">${escapeXml(NAMES[s.contender])}</text>`,
    )
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">Latency and goodput against offered load</text>
<text x="${width / 2}" y="44" text-anchor="middle" font-size="12" fill="#444">${escapeXml(subtitle)}</text>
${left}
${right}
${legend}
</svg>
`;
}
