// failedTemplate / notFailedTemplate: the render failed for this template with `errorMessage`
// (exact), `errorPattern` (RE2 search, literal fallback) or any message (`{}`). An error that
// could not be tied to a template (schema, values) is matched whole.
import { goRegExp } from '../go-regexp.js';
import {
  andSoFar,
  errorInfo,
  failFormat,
  splitInfo,
  type ValidateContext,
  type Validator,
  type Verdict,
} from './common.js';

const META = /[\\.+*?()|[\]{}^$]/;

function escapeRegExp(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

export class FailedTemplateValidator implements Validator {
  constructor(
    private readonly errorMessage: string,
    private readonly errorPattern: string,
  ) {}

  private info(actual: string | undefined, documentIndex: number, not: boolean): string[] {
    const what = this.errorPattern !== '' ? ' to match' : ' to equal';
    const expected = this.errorMessage !== '' ? this.errorMessage : this.errorPattern;
    if (not) return splitInfo(failFormat(not, false, false, false, what), documentIndex, -1, expected);
    return splitInfo(failFormat(not, false, true, false, what), documentIndex, -1, expected, actual ?? '<nil>');
  }

  private byPattern(actual: string | undefined, documentIndex: number, negative: boolean): Verdict {
    let regex: RegExp;
    try {
      regex = goRegExp(this.errorPattern);
    } catch {
      regex = new RegExp(escapeRegExp(this.errorPattern));
    }
    if (actual !== undefined && regex.test(actual) === negative) {
      if (META.test(this.errorPattern) && new RegExp(escapeRegExp(this.errorPattern)).test(actual) !== negative)
        return { passed: true, info: [] };
      return { passed: false, info: this.info(actual, documentIndex, negative) };
    }
    return { passed: true, info: [] };
  }

  private byMessage(actual: string | undefined, documentIndex: number, negative: boolean): Verdict {
    if ((actual !== undefined && actual === this.errorMessage) === negative)
      return { passed: false, info: this.info(actual, documentIndex, negative) };
    return { passed: true, info: [] };
  }

  validate(context: ValidateContext): Verdict {
    if (this.errorMessage !== '' && this.errorPattern !== '') {
      return {
        passed: false,
        info: errorInfo("single attribute 'errorMessage' or 'errorPattern' supported at the same time"),
      };
    }
    if (context.renderError !== undefined) {
      if (this.errorPattern !== '') return this.byPattern(context.renderError, -1, context.negative);
      if (this.errorMessage !== '') return this.byMessage(context.renderError, -1, context.negative);
      return { passed: true, info: [] };
    }
    let passed = true;
    const info: string[] = [];
    for (const [index, doc] of context.selected.entries()) {
      if (this.errorMessage === '' && this.errorPattern === '' && !context.negative) continue;
      const raw = doc.raw;
      const actual = typeof raw === 'string' ? raw : undefined;
      let verdict: Verdict = { passed: true, info: [] };
      if (this.errorPattern !== '') verdict = this.byPattern(actual, index, context.negative);
      else if (this.errorMessage !== '') verdict = this.byMessage(actual, index, context.negative);
      info.push(...verdict.info);
      passed = andSoFar(index, passed, verdict.passed);
      if (!passed && context.failFast) break;
    }
    if (context.selected.length === 0 && !context.negative) {
      return { passed: false, info: [...info, ...this.info('No failed document', -1, context.negative)] };
    }
    return { passed, info };
  }
}
