// Assertions about whole documents: containsDocument, isKind, isAPIVersion, hasDocuments.
import { toYamlText, type YamlMap, type YamlValue } from '../yaml-data.js';
import {
  andSoFar,
  failFormat,
  overDocuments,
  splitInfo,
  type ValidateContext,
  type Validator,
  type Verdict,
} from './common.js';
import { lookup } from './path-values.js';

export interface DocumentIdentity {
  readonly kind: string;
  readonly apiVersion: string;
  readonly name: string;
  readonly namespace: string;
  readonly any: boolean;
}

export class ContainsDocumentValidator implements Validator {
  constructor(private readonly want: DocumentIdentity) {}

  private describe(): string {
    const parts = [`Kind = ${this.want.kind}, apiVersion = ${this.want.apiVersion}`];
    if (this.want.name !== '') parts.push(`Name = ${this.want.name}`);
    if (this.want.namespace !== '') parts.push(`Namespace = ${this.want.namespace}`);
    return parts.join(', ');
  }

  private info(documentIndex: number, not: boolean): string[] {
    return splitInfo(failFormat(not, false, false, false, ' to contain document'), documentIndex, -1, this.describe());
  }

  private metadataMatches(doc: YamlMap, field: string, want: string): boolean {
    if (want === '') return true;
    const found = lookup(doc, `metadata.${field}`, -1);
    return found.ok && found.values.length > 0 && found.values[0] === want;
  }

  private matches(doc: YamlMap): boolean {
    // A document without kind/apiVersion is not ruled out by them (upstream compares present strings only).
    if (typeof doc.kind === 'string' && doc.kind !== this.want.kind) return false;
    if (typeof doc.apiVersion === 'string' && doc.apiVersion !== this.want.apiVersion) return false;
    return (
      this.metadataMatches(doc, 'name', this.want.name) && this.metadataMatches(doc, 'namespace', this.want.namespace)
    );
  }

  validate(context: ValidateContext): Verdict {
    let passed = false;
    let info: string[] = [];
    for (const [index, doc] of context.selected.entries()) {
      let docPassed: boolean;
      if (this.matches(doc) === context.negative) {
        docPassed = false;
        info.push(...this.info(index, context.negative));
        if (context.failFast) {
          passed = false;
          break;
        }
      } else {
        docPassed = true;
        if (this.want.any !== context.negative) {
          passed = true;
          info = [];
          break;
        }
      }
      passed = andSoFar(index, passed, docPassed);
    }
    if (context.selected.length === 0) {
      if (context.negative) return { passed: true, info };
      return { passed: false, info: [...info, ...this.info(0, context.negative)] };
    }
    return { passed, info };
  }
}

/** isKind / isAPIVersion: a top-level string field equals `of`. */
export class FieldIsValidator implements Validator {
  constructor(
    private readonly field: 'kind' | 'apiVersion',
    private readonly of: string,
  ) {}

  private info(actual: YamlValue, documentIndex: number, not: boolean): string[] {
    const what = this.field === 'kind' ? ' to be kind' : ' to be apiVersion';
    if (not) return splitInfo(failFormat(not, false, false, false, what), documentIndex, -1, this.of);
    return splitInfo(failFormat(not, false, true, false, what), documentIndex, -1, this.of, toYamlText(actual));
  }

  validate(context: ValidateContext): Verdict {
    return overDocuments(
      context,
      (doc, index) => {
        const value = doc[this.field];
        if ((typeof value === 'string' && value === this.of) === context.negative) {
          return { passed: false, info: this.info(value ?? null, index, context.negative) };
        }
        return { passed: true, info: [] };
      },
      () => this.info('no manifest found', -1, context.negative),
    );
  }
}

export class HasDocumentsValidator implements Validator {
  constructor(
    private readonly count: number,
    private readonly filterAware: boolean,
  ) {}

  validate(context: ValidateContext): Verdict {
    const actual = this.filterAware ? context.selected.length : context.docs.length;
    if ((actual === this.count) !== context.negative) return { passed: true, info: [] };
    const what = ' documents count to be';
    const info = context.negative
      ? splitInfo(failFormat(true, false, false, false, what), -1, -1, String(this.count))
      : splitInfo(failFormat(false, false, true, false, what), -1, -1, String(this.count), String(actual));
    return { passed: false, info };
  }
}
