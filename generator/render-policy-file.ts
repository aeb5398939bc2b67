import type { GeneratedFile, RenderInput } from './render-host-files.ts';
import { compare } from './resolve-policy.ts';

/**
 * JSON with every object's keys sorted (code-unit order), 2-space indent and a final newline: the bytes
 * depend only on the data, not on the key order someone happened to write in settings.json.
 */
export function stableJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort(compare)) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  return sorted;
}

/** policy.json: what the runtime and `explain --policy` read on the PBX. */
export function renderPolicyFile({ policy }: RenderInput): GeneratedFile[] {
  return [{ path: 'policy.json', content: stableJson(policy) }];
}
