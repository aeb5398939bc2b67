import { readFileSync } from 'node:fs';
import Mustache from 'mustache';

const TEMPLATES = new URL('../templates/', import.meta.url);

/**
 * How a value is made safe for one kind of generated file. Templates only ever use `{{x}}` (never the
 * unescaped `{{{x}}}` form), so every value passes through the escaper of its file type.
 */
export type Escaper = (value: string) => string;

/** Thrown when a value cannot be written safely into a generated file (a bug or a schema gap, never silent). */
export class UnsafeValueError extends Error {}

const CONTROL = /[\u0000-\u001f\u007f]/;

const XML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** XML text and attribute values (double-quoted attributes). */
export const xmlEscape: Escaper = (value) => {
  if (CONTROL.test(value)) throw new UnsafeValueError(`control character in XML value ${JSON.stringify(value)}`);
  return value.replace(/[&<>"']/g, (c) => XML_ENTITIES[c]!);
};

/** Values in Asterisk config files: a newline would start a new option, ';' a comment. */
export const asteriskConfEscape: Escaper = (value) => {
  if (CONTROL.test(value) || value.includes(';')) throw new UnsafeValueError(`unsafe Asterisk config value ${JSON.stringify(value)}`);
  return value;
};

/** crontab lines: a newline would add a job, and cron turns an unescaped '%' into a newline on stdin. */
export const cronEscape: Escaper = (value) => {
  if (CONTROL.test(value) || value.includes('%')) throw new UnsafeValueError(`unsafe crontab value ${JSON.stringify(value)}`);
  return value;
};

/** systemd unit values: a newline would add a directive; '%' starts a specifier, written '%%'. */
export const systemdEscape: Escaper = (value) => {
  if (CONTROL.test(value) || value.includes('\\')) throw new UnsafeValueError(`unsafe systemd unit value ${JSON.stringify(value)}`);
  return value.replace(/%/g, '%%');
};

const cache = new Map<string, string>();

/** Renders templates/<name>.mustache with the file type's escaper. */
export function renderTemplate(name: string, view: object, escape: Escaper): string {
  let template = cache.get(name);
  if (template === undefined) {
    template = readFileSync(new URL(`${name}.mustache`, TEMPLATES), 'utf8');
    cache.set(name, template);
  }
  // Mustache hands numbers and booleans to the escaper as they are.
  return Mustache.render(template, view, {}, { escape: (value: unknown) => escape(String(value)) });
}
