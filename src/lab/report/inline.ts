import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * Makes JavaScript source safe to inline in a classic <script> element: `</script` would end the
 * element and `<!--` would switch the HTML parser into its script-escaped states. Both can only
 * occur inside strings, regular expressions or comments, where `<\/` and `\x3C!--` mean the same.
 */
export function escapeScript(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '\\x3C!--');
}

/** JSON for a <script type="application/json"> element: no `<` at all (so no `</script` or `<!--`). */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

let chartSource: string | undefined;

/** The text of Chart.js's UMD bundle (defines `window.Chart`), without its source-map comment. */
export function chartJsSource(): string {
  if (chartSource === undefined) {
    const require = createRequire(import.meta.url);
    // chart.js's "exports" hide dist/, so find it next to the CommonJS entry point.
    const file = join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
    chartSource = readFileSync(file, 'utf8').replace(/\n?\/\/# sourceMappingURL=\S*\s*$/, '\n');
  }
  return chartSource;
}
