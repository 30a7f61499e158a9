// The JUnit XML report (`-t JUnit -o FILE`), in the shape upstream's formatter writes.
import { hostname } from 'node:os';
import type { SuiteResult, TestResult } from './results.js';

function xmlEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function attribute(text: string): string {
  return xmlEscape(text).replace(/\n/g, '&#xA;').replace(/\t/g, '&#x9;');
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** Upstream's TestJobResult.Stringify, flattened for an XML attribute. */
function describe(test: TestResult): string {
  let text = '';
  if (test.skipped) text += `SKIPPED '${test.name}' \n`;
  if (test.execError !== undefined) text += `${test.execError}\n`;
  for (const assertion of test.assertions) {
    const title = `- asserts[${assertion.index}]${assertion.not ? ' NOT' : ''} \`${assertion.type}\` fail`;
    text += `\t\t ${title} \n`;
    if (assertion.skipped)
      text += "\t\t\t skipped as 'documentSelector.skipEmptyTemplates: true' and 'selectedTemplates: empty' \n";
    else for (const line of assertion.failInfo) text += `\t\t\t ${line} \n`;
  }
  return text.replaceAll('\n', ',').replaceAll('\t', '');
}

function className(suiteName: string): string {
  const slash = suiteName.lastIndexOf('/');
  return slash >= 0 ? suiteName.slice(slash + 1) : suiteName;
}

export function junitReport(suites: readonly SuiteResult[], now: Date = new Date()): string {
  const stamp = now.toISOString().slice(0, 19);
  const host = hostname();
  const lines = ['<testsuites>'];
  suites.forEach((suite, id) => {
    const failures = suite.tests.filter((t) => !t.skipped && !t.passed && t.execError === undefined).length;
    const errors = suite.tests.filter((t) => !t.skipped && !t.passed && t.execError !== undefined).length;
    const time = suite.tests.reduce((sum, t) => sum + t.durationMs, 0);
    lines.push(
      `\t<testsuite id="${id}" tests="${suite.tests.length}" failures="${failures}" errors="${errors}" package="" time="${seconds(time)}" ` +
        `name="${attribute(suite.name)}" timestamp="${stamp}" hostname="${attribute(host)}">`,
      '\t\t<properties>',
      '\t\t\t<property name="helm-unittest.version" value="1.6"></property>',
      '\t\t</properties>',
    );
    for (const test of suite.tests) {
      const open = `\t\t<testcase classname="${attribute(className(suite.name))}" name="${attribute(test.name)}" time="${seconds(test.durationMs)}">`;
      if (test.skipped) {
        lines.push(open, `\t\t\t<skipped message="${attribute(describe(test))}"></skipped>`, '\t\t</testcase>');
      } else if (!test.passed && test.execError !== undefined) {
        lines.push(
          open,
          `\t\t\t<error message="Error" type="">${xmlEscape(test.execError)}</error>`,
          '\t\t</testcase>',
        );
      } else if (!test.passed) {
        lines.push(
          open,
          `\t\t\t<failure message="Failed" type="">${xmlEscape(describe(test))}</failure>`,
          '\t\t</testcase>',
        );
      } else {
        lines.push(`${open}</testcase>`);
      }
    }
    lines.push('\t</testsuite>');
  });
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
