// Temporary copies of a chart that hold only what one suite renders (upstream renders a filtered
// in-memory chart; `helm template --show-only` would filter output only, so templates left out
// could still fail or be included). A copy also carries a test's `chart:` version/appVersion
// override in its Chart.yaml files and, when NOTES.txt is selected, turns the notes into a
// manifest so `helm template` prints them. Copies are shared by every test with the same plan.
import { cp, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDocument, Scalar } from 'yaml';
import { allTemplates, type ChartFiles } from './chart-files.js';

export interface ChartOverride {
  readonly version: string | undefined;
  readonly appVersion: string | undefined;
}

export interface CopyPlan {
  /** Template keys to keep (everything else under templates/ is left out). */
  readonly keep: readonly string[];
  readonly override: ChartOverride;
}

/** The manifest that carries the rendered NOTES.txt, and the partial that defines it. */
export const NOTES_MANIFEST = 'zz-helm-unittest-notes.yaml';
export const NOTES_PARTIAL = '_helm-unittest-notes.tpl';
export const NOTES_KIND = 'HelmUnittestNotes';
const NOTES_DEFINE = 'helm-unittest.notes';

async function rewriteChartYaml(file: string, override: ChartOverride): Promise<void> {
  const doc = parseDocument(await readFile(file, 'utf8'));
  // Quoted, so a version such as 1.10 stays the string Helm expects.
  const quoted = (text: string): Scalar => Object.assign(new Scalar(text), { type: Scalar.QUOTE_DOUBLE });
  if (override.version !== undefined) doc.set('version', quoted(override.version));
  if (override.appVersion !== undefined) doc.set('appVersion', quoted(override.appVersion));
  await writeFile(file, doc.toString());
}

export class ChartCopies {
  private root: string | undefined;
  private readonly copies = new Map<string, Promise<string>>();
  private readonly templateKeyByFile: Map<string, string>;
  private counter = 0;

  constructor(private readonly chart: ChartFiles) {
    this.templateKeyByFile = new Map(allTemplates(chart).map((t) => [t.file, t.key]));
  }

  /** The directory of a copy that follows `plan`, made on first use. */
  get(plan: CopyPlan): Promise<string> {
    const id = JSON.stringify([[...plan.keep].sort(), plan.override.version ?? null, plan.override.appVersion ?? null]);
    let copy = this.copies.get(id);
    if (copy === undefined) {
      copy = this.make(plan);
      this.copies.set(id, copy);
    }
    return copy;
  }

  private async make(plan: CopyPlan): Promise<string> {
    this.root ??= await mkdtemp(path.join(tmpdir(), 'helm-unittest-'));
    this.counter += 1;
    const dest = path.join(this.root, String(this.counter), path.basename(this.chart.dir));
    await mkdir(path.dirname(dest), { recursive: true });
    const keep = new Set(plan.keep);
    await cp(this.chart.dir, dest, {
      recursive: true,
      filter: (source) => {
        const key = this.templateKeyByFile.get(path.resolve(source));
        return key === undefined || keep.has(key);
      },
    });
    if (plan.override.version !== undefined || plan.override.appVersion !== undefined) {
      await rewriteChartYaml(path.join(dest, 'Chart.yaml'), plan.override);
      for (const sub of this.chart.subcharts) {
        const rel = path.relative(this.chart.dir, sub.dir);
        await rewriteChartYaml(path.join(dest, rel, 'Chart.yaml'), plan.override);
      }
    }
    if (keep.has(`${this.chart.route}/templates/NOTES.txt`)) await captureNotes(dest);
    return dest;
  }

  async cleanup(): Promise<void> {
    if (this.root !== undefined) await rm(this.root, { recursive: true, force: true });
    this.root = undefined;
    this.copies.clear();
  }
}

async function captureNotes(chartDir: string): Promise<void> {
  const templates = path.join(chartDir, 'templates');
  const notesFile = path.join(templates, 'NOTES.txt');
  const notes = await readFile(notesFile, 'utf8');
  await unlink(notesFile);
  // No trim markers: the define body is exactly the file, line numbers included.
  await writeFile(path.join(templates, NOTES_PARTIAL), `{{ define "${NOTES_DEFINE}" }}${notes}{{ end }}`);
  await writeFile(
    path.join(templates, NOTES_MANIFEST),
    `kind: ${NOTES_KIND}\nnotes: {{ include "${NOTES_DEFINE}" . | toJson }}\n`,
  );
}
