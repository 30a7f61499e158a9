// From `helm template`'s answer to what assertions see, following upstream's test job:
// every selected (non-partial) template is a file, empty when Helm printed nothing for it;
// `.yaml`/`.yml`/`.tpl` files are parsed into their non-empty map documents, `.txt` files are one
// raw document; a failed render becomes one raw document holding the message, placed on the
// template the error names (or on every suite template when it names a `_` partial), and an
// error that names no template stays a render error of the whole test.
import path from 'node:path';
import { NOTES_KIND, NOTES_MANIFEST, NOTES_PARTIAL } from './chart-copy.js';
import type { Rendered } from './assertion-run.js';
import type { HelmTemplateResult } from './helm-template.js';
import { parseRenderError } from './render-error.js';
import { SEPARATOR } from './suite-file.js';
import { templateKey } from './template-names.js';
import { isMap, parseYamlDocuments, type YamlMap } from './yaml-data.js';

export class ManifestParseError extends Error {
  override readonly name = 'ManifestParseError';
}

const SEPARATOR_ALL = new RegExp(SEPARATOR.source, 'g');

/** Upstream's parseYamlFile: the non-empty map documents of one rendered file. */
export function parseManifests(text: string): YamlMap[] {
  const docs = parseYamlDocuments(text.replace(SEPARATOR_ALL, '\n---\n'));
  const maps: YamlMap[] = [];
  for (const doc of docs) {
    if (doc === null) continue;
    if (!isMap(doc))
      throw new ManifestParseError(
        `yaml: unmarshal errors: cannot unmarshal ${Array.isArray(doc) ? '!!seq' : '!!str'} into common.K8sManifest`,
      );
    if (Object.keys(doc).length > 0) maps.push(doc);
  }
  return maps;
}

function manifestsOf(files: ReadonlyMap<string, string>): Map<string, YamlMap[]> {
  const manifests = new Map<string, YamlMap[]>();
  for (const [key, text] of files) {
    const ext = path.posix.extname(key);
    if (ext === '.yaml' || ext === '.yml' || ext === '.tpl') manifests.set(key, parseManifests(text));
    else if (ext === '.txt') manifests.set(key, [{ raw: text }]);
  }
  return manifests;
}

export interface OutputContext {
  /** Root chart route (where the NOTES capture lives). */
  readonly chartRoute: string;
  /** The suite's chart route and templates (partial errors land on each of them). */
  readonly suiteRoute: string;
  readonly suiteTemplates: readonly string[];
  /** Non-partial template keys the chart copy renders. */
  readonly renderedTemplates: readonly string[];
  /** False when the test has a failedTemplate assertion (render errors are then captured). */
  readonly requireRenderSuccess: boolean;
}

export interface Outcome {
  readonly rendered: Rendered;
  /** The test's execution error, if any (it still counts as passed when its assertions pass). */
  readonly execError: string | undefined;
}

function notesFromCapture(text: string): string {
  for (const doc of parseManifests(text)) {
    if (doc.kind === NOTES_KIND && typeof doc.notes === 'string') return doc.notes;
  }
  return '';
}

function successOutcome(result: Extract<HelmTemplateResult, { ok: true }>, context: OutputContext): Outcome {
  const files = new Map<string, string>(context.renderedTemplates.map((key) => [key, '']));
  const notesKey = `${context.chartRoute}/templates/NOTES.txt`;
  const captureKey = `${context.chartRoute}/templates/${NOTES_MANIFEST}`;
  for (const doc of result.documents) {
    if (doc.source === captureKey) {
      files.set(notesKey, notesFromCapture(doc.text));
      continue;
    }
    const previous = files.get(doc.source);
    files.set(doc.source, previous === undefined || previous === '' ? doc.text : `${previous}---\n${doc.text}`);
  }
  return {
    rendered: {
      manifests: manifestsOf(files),
      outputKeys: [...files.keys()],
      renderSucceed: true,
      renderError: undefined,
    },
    execError: undefined,
  };
}

const NO_OUTPUT = { manifests: new Map<string, YamlMap[]>(), outputKeys: [] as string[], renderSucceed: false };

export function outcomeOf(result: HelmTemplateResult, context: OutputContext): Outcome {
  if (result.ok) return successOutcome(result, context);
  const error = result.error.replaceAll(
    `${context.chartRoute}/templates/${NOTES_PARTIAL}`,
    `${context.chartRoute}/templates/NOTES.txt`,
  );
  if (context.requireRenderSuccess) return { rendered: { ...NO_OUTPUT, renderError: error }, execError: error };
  const parsed = parseRenderError(error);
  if (parsed.file === '' && parsed.message === '')
    return { rendered: { ...NO_OUTPUT, renderError: error }, execError: error };
  const targets = path.posix.basename(parsed.file).startsWith('_')
    ? (context.suiteTemplates.length > 0 ? context.suiteTemplates : ['**']).map((name) =>
        templateKey(context.suiteRoute, name),
      )
    : [parsed.file];
  const manifests = new Map<string, YamlMap[]>(targets.map((key) => [key, [{ raw: parsed.message }]]));
  return {
    rendered: { manifests, outputKeys: targets, renderSucceed: false, renderError: undefined },
    execError: undefined,
  };
}
